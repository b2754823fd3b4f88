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
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

import infer
from infer.mlflow_model import ARTIFACT_KEY, OUTPUT_COLUMNS
from infer.registry import tracking_uri

PIP_REQUIREMENTS = [
    "torch>=2.4", "timm>=1.0,<2", "safetensors>=0.4", "pillow>=10.1", "numpy>=1.24",
    "pandas>=2.0", "tqdm>=4.60", "mlflow>=3.0,<4",
]

DEFAULT_DELIVERY_TIMEOUT_S = 300.0
# MLflow's own defaults (7 retries, backoff factor 2, 120 s timeout) can hold one call for
# minutes; the outbox does the retrying here, so one call gives up after a few seconds.
# setdefault: a value set in the environment wins.
HTTP_RETRY_ENV = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
PROBE_TIMEOUT_S = 3.0  # GET /health
RETRY_INTERVAL_S = 5.0  # while the server is down: how often a logging call looks again
REJECT_AFTER = 3  # a queued call the (answering) server fails this often is set aside
OUTBOX_DIR = "mlflow-outbox"
OFFLINE_DIR = "mlflow-offline"
PENDING_PREFIX = "pending-"  # id of a child run not yet created on the server
REPLAY_COMMAND = "python -m train.tracking replay"


class TrackingUnavailable(RuntimeError):
    """The tracking server does not answer when a run starts."""


_enabled = True
_session: _Session | None = None


def set_enabled(flag: bool) -> None:
    """False: every function here does nothing (e.g. on non-zero ranks of a distributed run)."""
    global _enabled
    _enabled = bool(flag)


def is_enabled() -> bool:
    return _enabled


def _null_run(run_id: str | None = None):
    return SimpleNamespace(info=SimpleNamespace(run_id=run_id))


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


# -- reachability -------------------------------------------------------------------------


def is_http(uri: str) -> bool:
    return uri.split(":", 1)[0].lower() in ("http", "https")


def _short(exc: BaseException) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("timed out", "timed out"),
        ("Connection aborted", "connection aborted"),
        ("Connection reset", "connection reset"),
        ("Max retries exceeded", "connection failed"),
    ):
        if needle in text:
            return reason
    return f"{type(exc).__name__}: {text[:200]}"


def probe(uri: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the server at `uri` answers GET /health, else why not (short)."""
    import requests

    verify: bool | str = True
    if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() in ("1", "true"):
        verify = False
    elif os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
        verify = os.environ["MLFLOW_TRACKING_SERVER_CERT_PATH"]
    try:
        response = requests.get(uri.rstrip("/") + "/health", timeout=timeout, verify=verify)
    except requests.Timeout:
        return f"no answer within {timeout:g} s"
    except requests.RequestException as exc:
        return _short(exc)
    if response.status_code >= 500:
        return f"HTTP {response.status_code} from /health"
    return None  # any other answer (200, or 401/404 behind auth or a proxy) means it is up


def unreachable_message(uri: str, reason: str) -> str:
    port = uri.rsplit(":", 1)[-1].strip("/") if uri.count(":") > 1 else "5000"
    port = port if port.isdigit() else "5000"
    return (
        f"MLflow tracking server {uri} is unreachable ({reason}); training was not started.\n"
        "Fix one of:\n"
        f"  - start the server (docs/tracking-server.md), e.g.\n"
        f"      mlflow server --host 127.0.0.1 --port {port} "
        "--backend-store-uri sqlite:///mlflow-server.db --artifacts-destination ./mlartifacts\n"
        f"  - point MLFLOW_TRACKING_URI at a running server (now {uri}), or unset it to log to "
        "the local sqlite:///mlflow.db\n"
        "  - set tracking.offline_fallback=true to log to a local store while the server is down"
    )


def check_reachable(uri: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise TrackingUnavailable unless `uri` (default: MLFLOW_TRACKING_URI) answers.
    Local stores (sqlite, file) always pass."""
    uri = uri or tracking_uri()
    if not is_http(uri):
        return
    reason = probe(uri, timeout)
    if reason:
        raise TrackingUnavailable(unreachable_message(uri, reason))


def _short_http_retries() -> None:
    for name, value in HTTP_RETRY_ENV.items():
        os.environ.setdefault(name, value)


@contextlib.contextmanager
def _quiet_urllib3():
    """urllib3 warns on each retry; the outbox reports outages itself, once."""
    logger = logging.getLogger("urllib3.connectionpool")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _looks_transient(exc: BaseException) -> bool:
    import requests

    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    if isinstance(exc, MlflowException):
        # Connection failures surface as INTERNAL_ERROR ("API request ... failed with exception").
        status = exc.get_http_status_code()
        return status >= 500 or status == 429
    return False


# -- delivering one call ------------------------------------------------------------------


def _ms() -> int:
    return int(time.time() * 1000)


def _log_model(run_id: str | None, package_dir: Path, register_as: str, alias: str,
               example: pd.DataFrame | None, progress: dict | None = None) -> dict:
    """Log the package as a models-from-code pyfunc under `run_id`, register it, set `alias`.
    `progress` remembers a logged model, so a retry after a failed alias does not log it again."""
    progress = {} if progress is None else progress
    if "model_uri" not in progress:
        infer_dir = Path(infer.__file__).parent
        active = mlflow.active_run()
        resume = run_id is not None and (active is None or active.info.run_id != run_id)
        with mlflow.start_run(run_id=run_id) if resume else contextlib.nullcontext():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(infer_dir / "mlflow_model.py"),
                artifacts={ARTIFACT_KEY: str(package_dir)},
                code_paths=[str(infer_dir)],
                signature=signature(),
                input_example=example,
                pip_requirements=PIP_REQUIREMENTS,
                registered_model_name=register_as or None,
            )
        progress["model_uri"] = info.model_uri
        progress["version"] = str(info.registered_model_version) if register_as else None
    result = {"model_uri": progress["model_uri"], "name": None, "version": None}
    if register_as:
        if alias:
            MlflowClient().set_registered_model_alias(register_as, alias, progress["version"])
        result.update(name=register_as, version=progress["version"])
    return result


def _deliver(record: dict, client: MlflowClient, ids: dict[str, str]) -> Any:
    """Send one recorded call to the server. `ids` maps pending child-run ids to real ones."""
    op = record["op"]
    run_id = ids.get(record["run_id"], record["run_id"])
    if op == "create_run":
        tags = {k: ids.get(v, v) for k, v in record["tags"].items()}
        run = client.create_run(record["experiment_id"], start_time=record["start_time"],
                                tags=tags, run_name=record["run_name"])
        return run.info.run_id
    if run_id.startswith(PENDING_PREFIX):
        raise ValueError(f"run {run_id} was never created on the server")
    if op == "params":
        client.log_batch(run_id, params=[Param(k, v) for k, v in record["params"].items()],
                         synchronous=True)
    elif op == "metrics":
        metrics = [Metric(k, float(v), record["timestamp"], record["step"])
                   for k, v in record["metrics"].items()]
        client.log_batch(run_id, metrics=metrics, synchronous=True)
    elif op == "text":
        client.log_text(run_id, record["text"], record["artifact_file"])
    elif op == "artifact":
        path = Path(record["path"])
        if path.is_dir():
            client.log_artifacts(run_id, str(path), record.get("artifact_path"))
        else:
            client.log_artifact(run_id, str(path), record.get("artifact_path"))
    elif op == "table":
        client.log_table(run_id, pd.DataFrame(**record["table"]), record["artifact_file"])
    elif op == "terminate":
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(record["status"])  # pops the fluent run first, then tells the server
        else:
            client.set_terminated(run_id, record["status"], record["end_time"])
    elif op == "model":
        example = record.get("_example")
        if example is None and record.get("example"):
            example = pd.read_json(record["example"], orient="split", dtype=False)
        progress = record.setdefault("logged", {})
        return _log_model(run_id, Path(record["package_dir"]), record["register_as"],
                          record["alias"], example, progress)
    else:
        raise ValueError(f"unknown tracking call {op!r}")
    return None


class Outbox:
    """Calls the server has not taken yet, in order, mirrored to `<folder>/journal.jsonl`.

    Journal lines: {"header": {...}} once; one line per queued call ({"seq": n, "op": ...},
    its files copied under files/); {"done": n, "status": "delivered"|"rejected"} when it is
    settled. Pending = queued and not done; a truncated last line (process killed) is skipped.
    """

    def __init__(self, folder: Path, header: dict | None = None):
        self.folder = Path(folder)
        self.journal = self.folder / "journal.jsonl"
        self.header = header or {}
        self.pending: list[dict] = []
        self.ids: dict[str, str] = {}  # pending child-run id -> created run id
        self.seq = 0

    @classmethod
    def open(cls, folder: Path) -> Outbox:
        box = cls(folder)
        records: dict[int, dict] = {}
        done: set[int] = set()
        if box.journal.is_file():
            for line in box.journal.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if "header" in entry:
                    box.header = entry["header"]
                elif "seq" in entry:
                    records[entry["seq"]] = entry
                    box.seq = max(box.seq, entry["seq"])
                elif "done" in entry:
                    done.add(entry["done"])
                    if entry.get("created_run_id") and entry["done"] in records:
                        box.ids[records[entry["done"]]["run_id"]] = entry["created_run_id"]
        box.pending = [records[s] for s in sorted(records) if s not in done]
        return box

    def _write(self, entry: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        lead = ""
        if not self.journal.exists():
            lead = json.dumps({"header": self.header}, default=str) + "\n"
        elif self.journal.stat().st_size:
            with self.journal.open("rb") as f:
                f.seek(-1, os.SEEK_END)
                lead = "" if f.read(1) == b"\n" else "\n"  # after a line cut off by a kill
        with self.journal.open("a") as f:
            f.write(lead + json.dumps(entry, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def add(self, record: dict) -> None:
        """Queue `record`: copy the files it names (they may be temporary) and journal it."""
        self.seq += 1
        record["seq"] = self.seq
        files = self.folder / "files" / f"{self.seq:05d}"
        if record["op"] == "artifact":
            src = Path(record["path"])
            files.mkdir(parents=True, exist_ok=True)
            dst = files / src.name
            shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
            record["path"] = str(dst)
        elif record["op"] == "model":
            files.mkdir(parents=True, exist_ok=True)
            shutil.copytree(record["package_dir"], files / "package", dirs_exist_ok=True)
            record["package_dir"] = str(files / "package")
            if record.get("_example") is not None:
                record["_example"].to_json(files / "example.json", orient="split")
                record["example"] = str(files / "example.json")
        self._write({k: v for k, v in record.items() if not k.startswith("_")})
        self.pending.append(record)

    def settle(self, record: dict, status: str = "delivered", **extra) -> None:
        self.pending.remove(record)
        if "seq" in record:
            self._write({"done": record["seq"], "status": status, **extra})


class _Down(Exception):
    def __init__(self, reason: str, server_up: bool):
        super().__init__(reason)
        self.reason, self.server_up = reason, server_up


class _Courier:
    """Delivers calls to one tracking store through an Outbox, retrying while it is down."""

    def __init__(self, uri: str, outbox: Outbox, delivery_timeout_s: float):
        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        self.outbox = outbox
        self.delivery_timeout_s = float(delivery_timeout_s)
        self.next_try = 0.0
        self.down_since: float | None = None
        self.deadline: float | None = None

    def attempt(self, record: dict) -> Any:
        """Deliver `record`; _Down when the server cannot take it now (other errors raise)."""
        try:
            with _quiet_urllib3():
                return _deliver(record, self.client, self.outbox.ids)
        except Exception as exc:
            if not is_http(self.uri):
                raise
            reason = probe(self.uri)
            if reason or _looks_transient(exc):
                raise _Down(reason or _short(exc), server_up=reason is None) from exc
            raise

    def delivered(self, record: dict, result: Any) -> None:
        extra = {}
        if record["op"] == "create_run":
            self.outbox.ids[record["run_id"]] = result
            extra["created_run_id"] = result
        if record in self.outbox.pending:
            self.outbox.settle(record, **extra)

    def note_down(self, reason: str) -> None:
        self.next_try = time.time() + RETRY_INTERVAL_S
        if self.down_since is None:
            self.down_since = time.time()
            _warn(f"tracking server {self.uri} unreachable ({reason}); training goes on, "
                  f"logging is queued (journal: {self.outbox.journal}) and sent when it is back")

    def flush(self, force: bool = False) -> None:
        """Send queued calls in order; stop at the first the server cannot take. Without
        `force`, does nothing for RETRY_INTERVAL_S after a failure (training must not wait)."""
        if not self.outbox.pending or (not force and time.time() < self.next_try):
            return
        if is_http(self.uri) and (reason := probe(self.uri)):
            self.note_down(reason)
            return
        sent = 0
        while self.outbox.pending:
            record = self.outbox.pending[0]
            try:
                result = self.attempt(record)
            except _Down as down:
                record["_failures"] = record.get("_failures", 0) + 1
                if not down.server_up or record["_failures"] < REJECT_AFTER:
                    self.note_down(down.reason)
                    return
                self._reject(record, down.reason)
                continue
            except Exception as exc:
                self._reject(record, _short(exc))
                continue
            self.delivered(record, result)
            sent += 1
        if self.down_since is not None:
            print(f"tracking server {self.uri} is back: sent {sent} queued call(s)", flush=True)
            self.down_since = None

    def _reject(self, record: dict, reason: str) -> None:
        _warn(f"tracking server {self.uri} refused a queued {record['op']} call ({reason}); "
              f"it stays in {self.outbox.journal} (seq {record.get('seq')}) but is not retried")
        self.outbox.settle(record, status="rejected", error=reason)

    def drain(self) -> bool:
        """Retry the queue until it is empty or the delivery deadline passes (set on first use,
        `delivery_timeout_s` from then). True when everything was delivered."""
        if self.deadline is None:
            self.deadline = time.time() + self.delivery_timeout_s
        announced = False
        while True:
            self.flush(force=True)
            left = self.deadline - time.time()
            if not self.outbox.pending or left <= 0:
                return not self.outbox.pending
            if not announced:
                print(f"waiting up to {left:.0f} s for tracking server {self.uri} to take "
                      f"{len(self.outbox.pending)} queued call(s)", flush=True)
                announced = True
            time.sleep(min(RETRY_INTERVAL_S, left))

    def deliver_final(self, record: dict) -> tuple[bool, Any]:
        """Deliver `record` after the queue, retrying until the deadline; else queue it."""
        announced = False
        while True:
            if self.drain():
                try:
                    return True, self.attempt(record)
                except _Down as down:
                    self.note_down(down.reason)
            left = self.deadline - time.time()
            if left <= 0:
                break
            if not announced:
                print(f"waiting up to {left:.0f} s for tracking server {self.uri} to take the "
                      f"{record['op']}", flush=True)
                announced = True
            time.sleep(min(RETRY_INTERVAL_S, left))
        self.outbox.add(record)
        return False, None

    def report_leftovers(self) -> None:
        if not self.outbox.pending:
            return
        ops = sorted({r["op"] for r in self.outbox.pending})
        _warn(
            f"tracking server {self.uri} did not take {len(self.outbox.pending)} call(s) "
            f"({', '.join(ops)}) within {self.delivery_timeout_s:.0f} s. Nothing is lost: they "
            f"are in {self.outbox.journal} (files under {self.outbox.folder / 'files'}). "
            f"When the server is back, send them with:\n"
            f"    {REPLAY_COMMAND} {self.outbox.folder}"
        )


class _Session(_Courier):
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
            except _Down as down:
                self.note_down(down.reason)
        self.outbox.add(record)
        return False, None

    def open_child(self, name: str):
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        placeholder = f"{PENDING_PREFIX}{uuid.uuid4().hex}"
        record = {"op": "create_run", "run_id": placeholder, "experiment_id": self.experiment_id,
                  "run_name": name, "start_time": _ms(),
                  "tags": {k: str(v) for k, v in
                           resolve_tags({MLFLOW_PARENT_RUN_ID: self.run_id}).items()}}
        delivered, run_id = self.submit(record)
        self.stack.append(run_id if delivered else placeholder)
        return _null_run(self.run_id)

    def end(self, status: str) -> None:
        run_id = self.stack.pop()
        self.submit({"op": "terminate", "run_id": run_id, "status": status, "end_time": _ms()})

    def close(self, status: str) -> None:
        while len(self.stack) > 1:
            self.end(status)
        parent = self.stack[0]
        self.end(status)
        self.drain()
        self.report_leftovers()
        active = mlflow.active_run()
        if active is not None and active.info.run_id == parent:  # its terminate is still queued
            with contextlib.suppress(Exception), _quiet_urllib3():
                mlflow.end_run(status)


def _submit(record: dict) -> Any:
    if _session is not None:
        return _session.submit(record)[1]
    # Outside start(): straight to MLflow's active run (started if none), as plain mlflow does.
    active = mlflow.active_run() or mlflow.start_run()
    record["run_id"] = active.info.run_id
    return _deliver(record, MlflowClient(), {})


# -- the run ------------------------------------------------------------------------------


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
    global _session
    if not _enabled:
        yield _null_run(run_id)
        return
    uri = tracking_uri()
    env_before = os.environ.get("MLFLOW_TRACKING_URI")
    offline = None
    if is_http(uri):
        reason = probe(uri)
        if reason and not offline_fallback:
            raise TrackingUnavailable(unreachable_message(uri, reason))
        if reason:
            offline = Path(offline_dir or OFFLINE_DIR).resolve()
            offline.mkdir(parents=True, exist_ok=True)
            local = f"sqlite:///{offline / 'mlflow.db'}"
            _warn(f"tracking server {uri} unreachable ({reason}); tracking.offline_fallback is on, "
                  f"so this run logs to the local store {local} (artifacts in "
                  f"{offline / 'artifacts'}). See it with: mlflow ui --backend-store-uri {local}")
            uri = local  # mlflow.set_tracking_uri below also sets MLFLOW_TRACKING_URI
        else:
            _short_http_retries()
    mlflow.set_tracking_uri(uri)
    try:
        if offline is not None:
            client = MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(experiment)
            exp_id = found.experiment_id if found else client.create_experiment(
                experiment, artifact_location=(offline / "artifacts").as_uri())
            mlflow.set_experiment(experiment_id=exp_id)
        else:
            mlflow.set_experiment(experiment)
        active = mlflow.start_run(run_id=run_id, run_name=run_name or None)
    except MlflowException as exc:
        if "Invalid Host header" in str(exc):  # /health is exempt from the host check
            host = uri.split("://", 1)[1].split("/", 1)[0]
            raise TrackingUnavailable(
                f"MLflow tracking server {uri} refuses requests for host {host!r} (Invalid Host "
                f"header); training was not started. Start the server with --allowed-hosts "
                f"including {host!r} (docs/tracking-server.md)") from exc
        raise
    session = _Session(uri, active.info.run_id, active.info.experiment_id,
                       Path(outbox_dir or OUTBOX_DIR).resolve(), delivery_timeout_s)
    _session = session
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
            _session = None
            if offline is not None:
                mlflow.set_tracking_uri(env_before)  # None also clears MLFLOW_TRACKING_URI


@contextlib.contextmanager
def child_run(name: str):
    if not _enabled:
        yield _null_run()
        return
    if _session is None:
        with mlflow.start_run(run_name=name, nested=True) as run:
            yield run
        return
    session = _session
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


# -- what a run logs ----------------------------------------------------------------------


def log_params(params: dict) -> None:
    if not _enabled:
        return
    # MLflow caps a param value at 6000 chars; 500 keeps the UI readable.
    _submit({"op": "params", "params": {k: str(v)[:500] for k, v in params.items()}})


def log_text(text: str, artifact_file: str) -> None:
    if _enabled:
        _submit({"op": "text", "text": text, "artifact_file": artifact_file})


def log_artifact(path: str | Path, folder: str | None = None) -> None:
    if _enabled:
        _submit({"op": "artifact", "path": str(path), "artifact_path": folder})


def log_metrics(metrics: dict, prefix: str, step: int | None = None) -> None:
    if not _enabled:
        return
    clean = {f"{prefix}/{k}": float(v) for k, v in metrics.items() if v is not None}
    if clean:
        _submit({"op": "metrics", "metrics": clean, "step": int(step or 0), "timestamp": _ms()})


def log_figures(figures: dict, folder: str) -> None:
    import matplotlib.pyplot as plt

    for name, fig in figures.items():
        if _enabled:
            artifact_file = f"{folder}/{name}"
            parent, _, filename = artifact_file.rpartition("/")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / filename
                fig.savefig(path)
                _submit({"op": "artifact", "path": str(path), "artifact_path": parent or None})
        plt.close(fig)


def log_table(table: pd.DataFrame, name: str) -> None:
    if not _enabled or table is None or table.empty:
        return
    split = json.loads(table.reset_index().to_json(orient="split", index=False))
    _submit({"op": "table", "table": split, "artifact_file": f"{name}.json"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        table.to_csv(path, float_format="%.4f")
        _submit({"op": "artifact", "path": str(path), "artifact_path": "evaluation"})


def log_json(data: dict, artifact_file: str) -> None:
    log_text(json.dumps(data, indent=2, sort_keys=True, default=str), artifact_file)


def signature() -> ModelSignature:
    inputs = Schema([
        ColSpec("string", "parcel_id", required=False),
        ColSpec("string", "path", required=False),
        ColSpec("string", "image", required=False),
    ])
    types = {"counterfeit_probability": "double", "brand_probability": "double"}
    outputs = Schema([ColSpec(types.get(c, "string"), c, required=False) for c in OUTPUT_COLUMNS])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(photo_paths: list[str], parcel_id: str = "parcel-1", side: int = 96) -> pd.DataFrame:
    """A serving example: photos of one parcel as small base64 JPEGs (the format a non-Python
    inspection app posts), shrunk so the example stays a few kilobytes."""
    import base64
    import io

    from infer.photos import load_photo

    images = []
    for path in photo_paths:
        img = load_photo(path)
        img.thumbnail((side, side))
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG", quality=85)
        images.append(base64.b64encode(buffer.getvalue()).decode("ascii"))
    return pd.DataFrame({"parcel_id": [parcel_id] * len(images), "image": images})


def log_and_register(
    package_dir: Path, register_as: str, alias: str, example: pd.DataFrame | None = None
) -> dict:
    """Log the package as a models-from-code pyfunc, register it, point `alias` at it.

    With the server down, retries (queued calls first) until the delivery deadline; then the
    package stays in the run's outbox for `python -m train.tracking replay` and the result
    has `model_uri` None and `pending` = that folder."""
    if not _enabled:
        return {"model_uri": None, "name": None, "version": None}
    if _session is None:
        active = mlflow.active_run()
        return _log_model(active.info.run_id if active else None, Path(package_dir),
                          register_as, alias, example)
    record = {"op": "model", "run_id": _session.run_id, "package_dir": str(package_dir),
              "register_as": register_as, "alias": alias, "_example": example}
    delivered, result = _session.deliver_final(record)
    if delivered:
        return result
    _warn(f"model not logged or registered: tracking server {_session.uri} did not answer within "
          f"{_session.delivery_timeout_s:.0f} s. The package is kept in {record['package_dir']}; "
          f"`{REPLAY_COMMAND} {_session.outbox.folder}` logs and registers it later")
    return {"model_uri": None, "name": register_as or None, "version": None,
            "pending": str(_session.outbox.folder)}


# -- replay -------------------------------------------------------------------------------


def journal_folders(path: str | Path) -> list[Path]:
    """Outbox folders (holding journal.jsonl) at or under `path` (a journal, its folder, or
    the outbox root holding one folder per run)."""
    path = Path(path)
    if path.is_file():
        return [path.parent]
    if (path / "journal.jsonl").is_file():
        return [path]
    return sorted(p.parent for p in path.glob("*/journal.jsonl"))


def replay(path: str | Path, uri: str | None = None, timeout_s: float = 60.0) -> bool:
    """Send what journals at `path` still hold to `uri` (default: the one they were meant
    for). True when nothing is left pending."""
    folders = journal_folders(path)
    if not folders:
        raise FileNotFoundError(f"no journal.jsonl at or under {path}")
    ok = True
    for folder in folders:
        outbox = Outbox.open(folder)
        target = uri or outbox.header.get("tracking_uri") or tracking_uri()
        if not outbox.pending:
            print(f"{folder}: nothing pending")
            continue
        if is_http(target):
            _short_http_retries()
        mlflow.set_tracking_uri(target)
        courier = _Courier(target, outbox, timeout_s)
        count = len(outbox.pending)
        print(f"{folder}: sending {count} call(s) to {target}", flush=True)
        courier.drain()
        if outbox.pending:
            ok = False
            _warn(f"{len(outbox.pending)} call(s) still pending in {outbox.journal}; run the "
                  "replay again when the server answers")
        else:
            print(f"{folder}: delivered (run {outbox.header.get('run_id')})", flush=True)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m train.tracking",
        description="Send tracking calls a training run could not deliver (its outbox journal).")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("replay", help="deliver the pending calls of one or more journals")
    cmd.add_argument("path", help="journal.jsonl, its folder, or an outbox folder of runs")
    cmd.add_argument("--tracking-uri", default=None,
                     help="where to send them (default: the URI recorded in the journal)")
    cmd.add_argument("--timeout", type=float, default=60.0,
                     help="seconds to keep retrying while the server does not answer")
    args = parser.parse_args(argv)
    try:
        return 0 if replay(args.path, args.tracking_uri, args.timeout) else 1
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
