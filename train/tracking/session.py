"""The run: `start()` opens it (after the preflight) and closes it, delivering what is
queued; `child_run()` nests runs under it. While it is open, `state.session` holds its
Session, through which every logging call goes."""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Any

import mlflow
from mlflow.exceptions import MlflowException

from infer.registry import tracking_uri
from train.tracking import state
from train.tracking.courier import Courier, Down
from train.tracking.delivery import PENDING_PREFIX, now_ms
from train.tracking.outbox import Outbox
from train.tracking.preflight import (
    TrackingUnavailable,
    choose_store,
    refused_host_message,
    use_experiment,
)
from train.tracking.server import quiet_urllib3

DEFAULT_DELIVERY_TIMEOUT_S = 300.0
OUTBOX_DIR = "mlflow-outbox"


class Session(Courier):
    """The run started by `start()`: a stack of run ids (parent, then child runs)."""

    def __init__(self, uri, run_id, experiment_id, outbox_dir: Path, delivery_timeout_s):
        header = {"tracking_uri": uri, "run_id": run_id, "experiment_id": experiment_id}
        outbox = Outbox.open(Path(outbox_dir) / run_id)  # a crashed attempt's leftovers, if any
        outbox.header = outbox.header or header
        super().__init__(uri, outbox, delivery_timeout_s)
        self.experiment_id = experiment_id
        self.stack = [run_id]
        for record in [r for r in outbox.pending if r["op"] == "terminate" and r["run_id"] == run_id]:
            outbox.settle(record, status="superseded")  # the run is being continued
        if outbox.pending:
            print(f"{len(outbox.pending)} call(s) of run {run_id} left undelivered in "
                  f"{outbox.journal} by an earlier attempt: sending them first", flush=True)
            self.next_try = 0.0

    @property
    def run_id(self) -> str:
        return self.stack[-1]

    def submit(self, record: dict) -> tuple[bool, Any]:
        """Deliver now (after the queue) or queue. (delivered, result)."""
        if "run_id" not in record:
            record["run_id"] = self.run_id
        record["run_id"] = self.outbox.ids.get(record["run_id"], record["run_id"])
        self.flush()
        if not self.outbox.pending:
            try:
                result = self.attempt(record)
                self.delivered(record, result)
                return True, result
            except Down as down:
                self.note_down(down.reason)
        self.outbox.add(record)
        return False, None

    def open_child(self, name: str):
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        placeholder = f"{PENDING_PREFIX}{uuid.uuid4().hex}"
        record = {"op": "create_run", "run_id": placeholder, "experiment_id": self.experiment_id,
                  "run_name": name, "start_time": now_ms(),
                  "tags": {k: str(v) for k, v in
                           resolve_tags({MLFLOW_PARENT_RUN_ID: self.run_id}).items()}}
        delivered, run_id = self.submit(record)
        self.stack.append(run_id if delivered else placeholder)
        return state.null_run(self.run_id)

    def end(self, status: str) -> None:
        run_id = self.stack.pop()
        self.submit({"op": "terminate", "run_id": run_id, "status": status, "end_time": now_ms()})

    def close(self, status: str) -> None:
        while len(self.stack) > 1:
            self.end(status)
        parent = self.stack[0]
        self.end(status)
        self.drain()
        self.report_leftovers()
        active = mlflow.active_run()
        if active is not None and active.info.run_id == parent:  # its terminate is still queued
            with contextlib.suppress(Exception), quiet_urllib3():
                mlflow.end_run(status)


@contextlib.contextmanager
def start(
    experiment: str,
    run_name: str | None,
    run_id: str | None = None,
    offline_fallback: bool = False,
    *,
    delivery_timeout_s: float = DEFAULT_DELIVERY_TIMEOUT_S,
    outbox_dir: str | Path | None = None,
    offline_dir: str | Path | None = None,
):
    """Start (or, with `run_id`, continue) a run; yields MLflow's ActiveRun (`.info.run_id`).

    An http(s) tracking server that does not answer raises TrackingUnavailable, or with
    `offline_fallback` switches to `sqlite:///<offline_dir>/mlflow.db` (default
    ./mlflow-offline). Calls the server cannot take are journaled under
    `<outbox_dir>/<run id>/` (default ./mlflow-outbox) and retried; on exit the rest is retried
    for `delivery_timeout_s`, then left there for `python -m train.tracking replay`.
    """
    if not state.enabled:
        yield state.null_run(run_id)
        return
    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    uri, offline = choose_store(tracking_uri(), offline_fallback, offline_dir)
    mlflow.set_tracking_uri(uri)
    try:
        use_experiment(experiment, uri, offline)
        active = mlflow.start_run(run_id=run_id, run_name=run_name or None)
    except MlflowException as exc:
        if "Invalid Host header" in str(exc):  # /health is exempt from the host check
            raise TrackingUnavailable(refused_host_message(uri)) from exc
        raise
    session = Session(uri, active.info.run_id, active.info.experiment_id,
                      Path(outbox_dir or OUTBOX_DIR).resolve(), delivery_timeout_s)
    state.session = session
    status = "FAILED"
    try:
        yield active
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        try:
            session.close(status)
        finally:
            state.session = None
            if offline is not None:
                mlflow.set_tracking_uri(env_before)  # None also clears MLFLOW_TRACKING_URI


@contextlib.contextmanager
def child_run(name: str):
    if not state.enabled:
        yield state.null_run()
        return
    if state.session is None:
        with mlflow.start_run(run_name=name, nested=True) as run:
            yield run
        return
    session = state.session
    handle = session.open_child(name)
    status = "FAILED"
    try:
        yield handle
        status = "FINISHED"
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    finally:
        session.end(status)
