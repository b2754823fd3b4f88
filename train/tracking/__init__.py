"""Everything MLflow: the run, its parameters, figures, tables, and the registered model.

Logging survives a tracking server that goes away (docs/tracking-server.md):

* `start()` checks an http(s) server first and fails at once with a clear message
  (`TrackingUnavailable`), or logs to a local store when `offline_fallback` is set;
* a call the server cannot take is queued in an outbox, in order, and mirrored to an
  append-only journal (`<outbox_dir>/<run id>/journal.jsonl`, files beside it); later calls
  send the queue first, so training never waits long on a dead server;
* at the end (`log_and_register`, leaving `start()`) the queue and the model are retried for
  `delivery_timeout_s`; what is still undelivered stays in the journal, and
  `python -m train.tracking replay PATH` sends it later.

`set_enabled(False)` (non-zero ranks of a distributed run) makes every function a no-op.

Modules: `state` (enabled, the open session), `server` (probe, outage vs refusal),
`preflight` (check at start, offline fallback), `outbox` (queue + journal), `delivery` (one
call to MLflow), `courier` (deliver or queue, retry), `session` (start, child_run), `log`
(params, metrics, artifacts...), `model` (pyfunc, signature, example, registration),
`replaying` (journals sent later), `__main__` (the replay command).

The constants below are re-exported for reading; to change one (or `state.enabled`), patch
the module that defines it, which is where the code reads it.
"""

from train.tracking.courier import REJECT_AFTER, RETRY_INTERVAL_S
from train.tracking.delivery import PENDING_PREFIX
from train.tracking.log import (
    end_left_open,
    log_artifact,
    log_figures,
    log_json,
    log_metrics,
    log_params,
    log_table,
    log_text,
)
from train.tracking.model import PIP_REQUIREMENTS, input_example, log_and_register, signature
from train.tracking.outbox import REPLAY_COMMAND, Outbox
from train.tracking.preflight import (
    OFFLINE_DIR,
    TrackingUnavailable,
    check_reachable,
    unreachable_message,
)
from train.tracking.replaying import journal_folders, replay
from train.tracking.server import HTTP_RETRY_ENV, PROBE_TIMEOUT_S, is_http, probe
from train.tracking.session import DEFAULT_DELIVERY_TIMEOUT_S, OUTBOX_DIR, child_run, start
from train.tracking.state import is_enabled, set_enabled

__all__ = [
    "DEFAULT_DELIVERY_TIMEOUT_S", "HTTP_RETRY_ENV", "OFFLINE_DIR", "OUTBOX_DIR", "PENDING_PREFIX",
    "PIP_REQUIREMENTS", "PROBE_TIMEOUT_S", "REJECT_AFTER", "REPLAY_COMMAND", "RETRY_INTERVAL_S",
    "Outbox", "TrackingUnavailable", "check_reachable", "child_run", "end_left_open", "input_example",
    "is_enabled", "is_http", "journal_folders", "log_and_register", "log_artifact",
    "log_figures", "log_json", "log_metrics", "log_params", "log_table", "log_text", "probe",
    "replay", "set_enabled", "signature", "start", "unreachable_message",
]
