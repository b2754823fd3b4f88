"""Team setup (docs/tracking-server.md): `mlflow server` with a sqlite backend and a proxied
artifact store, training logging to it over HTTP, and what happens when the server is down
when training starts or goes away in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient

from tests.conftest import REPO, free_port, run_module
from train.config import load_config
from train.synthetic_data import ensure_synthetic

SMOKE = REPO / "configs" / "smoke.yaml"
MODEL_NAME = "counterfeit-inspector"


class MlflowServer:
    """`mlflow server` as a real subprocess: sqlite backend, artifacts served from a folder.
    stop() kills its whole process group (a crash, not a shutdown); start() again reuses the
    same port, database and artifact folder."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.backend = f"sqlite:///{folder / 'mlflow.db'}"
        self.artifacts = folder / "artifacts"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 120) -> None:
        self.starts += 1
        log = (self.folder / f"server-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", "1",
             "--backend-store-uri", self.backend,
             "--serve-artifacts", "--artifacts-destination", str(self.artifacts)],
            cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            # The job runner (huey consumers) is not needed here and costs CPU.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_tail()}")
            try:
                if requests.get(f"{self.uri}/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"mlflow server not up after {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def log_tail(self) -> str:
        return (self.folder / f"server-{self.starts}.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Path:
    """The smoke config's synthetic parcels, generated once for this module's runs."""
    out = tmp_path_factory.mktemp("synthetic")
    ensure_synthetic(load_config(SMOKE, [f"data.synthetic.out_dir={out}"]).data.synthetic)
    return out


def test_unreachable_server_fails_before_training(tmp_path, synthetic_dir):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    t0 = time.time()
    proc = run_module(
        ["train", "--config", str(SMOKE), f"output_dir={tmp_path / 'run'}",
         f"data.synthetic.out_dir={synthetic_dir}", "train.epochs=3"],
        cwd=tmp_path, env={"MLFLOW_TRACKING_URI": uri}, timeout=300,
    )
    elapsed = time.time() - t0
    assert proc.returncode != 0
    assert f"MLflow tracking server {uri} is unreachable" in proc.stderr
    assert "mlflow server" in proc.stderr and "offline_fallback" in proc.stderr
    assert "epoch 1" not in proc.stdout + proc.stderr  # failed before training
    assert not (tmp_path / "run" / "result.json").exists()
    assert elapsed < 60, f"took {elapsed:.0f} s to give up"


def test_offline_fallback_logs_locally(tmp_path, monkeypatch):
    import mlflow

    from train import tracking

    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(tracking.TrackingUnavailable, match="unreachable"), \
            tracking.start("offline-test", "r"):
        pass
    try:
        with tracking.start("offline-test", "r", offline_fallback=True) as run:
            tracking.log_metrics({"loss": 0.5}, "train", step=3)
            tracking.log_text("hello", "notes/hello.txt")
    finally:
        assert os.environ["MLFLOW_TRACKING_URI"] == uri  # restored after the run
        mlflow.set_tracking_uri(None)
    local = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow-offline' / 'mlflow.db'}")
    logged = local.get_run(run.info.run_id)
    assert logged.info.status == "FINISHED"
    assert [m.step for m in local.get_metric_history(run.info.run_id, "train/loss")] == [3]
    assert (tmp_path / "mlflow-offline" / "artifacts").is_dir()


def test_disabled_tracking_is_a_no_op(tmp_path, monkeypatch):
    from train import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # never used
    tracking.set_enabled(False)
    try:
        with tracking.start("x", "y", run_id="abc") as run:
            assert run.info.run_id == "abc"
            tracking.log_params({"a": 1})
            tracking.log_metrics({"loss": 1.0}, "train", step=0)
            with tracking.child_run("fold-0"):
                tracking.log_text("t", "t.txt")
            assert tracking.log_and_register(tmp_path, MODEL_NAME, "candidate")["model_uri"] is None
    finally:
        tracking.set_enabled(True)


def test_undelivered_calls_are_journaled_then_replayed(server, tmp_path, monkeypatch, capsys):
    """Server down until the end of the run: the run ends quickly (short delivery timeout),
    everything is in the journal, and `python -m train.tracking replay` delivers it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mlflow
    import pandas as pd

    from train import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.uri)
    package = tmp_path / "package"
    package.mkdir()
    (package / "meta.json").write_text("{}")
    outbox = tmp_path / "outbox"
    name = "replay-test-model"
    try:
        with tracking.start("replay-test", "r", delivery_timeout_s=2, outbox_dir=outbox) as run:
            run_id = run.info.run_id
            tracking.log_params({"lr": 0.1})
            tracking.log_metrics({"loss": 1.0}, "train", step=0)
            server.stop()
            t_down = time.time()
            tracking.log_metrics({"loss": 0.5}, "train", step=1)
            tracking.log_json({"a": 1}, "data/summary.json")
            fig = plt.figure()
            plt.plot([0, 1])
            tracking.log_figures({"curve.png": fig}, "evaluation")
            tracking.log_table(pd.DataFrame({"recall": [0.5]}, index=["top"]), "recall")
            with tracking.child_run("fold-0"):
                tracking.log_metrics({"auroc": 0.9}, "cv")
            registered = tracking.log_and_register(package, name, "candidate")
            assert time.time() - t_down < 60  # never waits long on a dead server
    finally:
        mlflow.set_tracking_uri(None)
        server.start()
    assert registered["model_uri"] is None and registered["pending"] == str(outbox / run_id)
    lines = [json.loads(x) for x in (outbox / run_id / "journal.jsonl").read_text().splitlines()]
    assert {x["op"] for x in lines if "op" in x} >= {
        "metrics", "text", "artifact", "table", "create_run", "model", "terminate"}

    proc = run_module(["train.tracking", "replay", str(outbox)], cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    client = MlflowClient(tracking_uri=server.uri)
    logged = client.get_run(run_id)
    assert logged.info.status == "FINISHED"
    history = client.get_metric_history(run_id, "train/loss")
    assert [m.step for m in history] == [0, 1]
    assert history[1].timestamp < t_down * 1000 + 30_000  # its original time, not the replay's
    files = {a.path for folder in ("data", "evaluation")
             for a in client.list_artifacts(run_id, folder)}
    assert {"data/summary.json", "evaluation/curve.png", "evaluation/recall.csv"} <= files
    children = client.search_runs([logged.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{run_id}'")
    assert [c.data.metrics for c in children] == [{"cv/auroc": 0.9}]
    assert children[0].info.status == "FINISHED"
    version = client.get_model_version_by_alias(name, "candidate")
    assert version.run_id == run_id
    # Replaying again sends nothing twice.
    assert tracking.replay(outbox) is True
    assert "nothing pending" in capsys.readouterr().out


class Watcher:
    """Reads a process's merged output line by line; wait() for a line containing a text."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self.thread.start()

    def _read(self, proc):
        for line in proc.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait(self, text: str, timeout: float) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: any(text in x for x in self.lines), timeout):
                raise AssertionError(f"no {text!r} within {timeout} s:\n" + self.text()[-4000:])

    def text(self) -> str:
        return "\n".join(self.lines)


# ~45 s on a quiet 2-core machine, several minutes on a shared one: slow. The journal and its
# replay stay in the default run (test_undelivered_calls_are_journaled_then_replayed).
@pytest.mark.slow
def test_training_survives_server_outage(server, tmp_path, synthetic_dir):
    """Train against the server, kill it after epoch 1, restart it after epoch 2 (same port,
    database, artifacts): every epoch's metrics and the registered model end up there."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "train", "--config", str(SMOKE), f"output_dir={out}",
         f"data.synthetic.out_dir={synthetic_dir}",
         # Three epochs of a few more steps: time to see epoch 1 end and stop the server
         # before epoch 2 logs.
         "train.epochs=3", "train.batch_size=4", "tracking.experiment=outage-test",
         "model.export_onnx=false"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1",
             "MLFLOW_TRACKING_URI": server.uri},
    )
    watcher = Watcher(proc)
    try:
        watcher.wait("epoch 1:", timeout=900)
        server.stop()
        watcher.wait("epoch 2:", timeout=600)
        server.start()
        back = time.time()
        assert proc.wait(timeout=900) == 0, watcher.text()[-6000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        if server.proc is None:
            server.start()
    watcher.thread.join(timeout=10)
    output = watcher.text()
    assert f"tracking server {server.uri} unreachable" in output  # the outage was hit
    assert f"tracking server {server.uri} is back" in output
    assert "did not take" not in output  # nothing left undelivered

    result = json.loads((out / "result.json").read_text())
    run_id = result["run_id"]
    client = MlflowClient(tracking_uri=server.uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    for key in ("train/loss", "train/lr", "val/parcel_auroc"):
        history = client.get_metric_history(run_id, key)
        assert sorted(m.step for m in history) == [0, 1, 2], key
    loss = {m.step: m for m in client.get_metric_history(run_id, "train/loss")}
    assert loss[1].timestamp < back * 1000  # logged while down, kept its own time
    assert "test/parcel_auroc" in run.data.metrics and "run/wall_seconds" in run.data.metrics
    assert {"config", "data"} <= {a.path for a in client.list_artifacts(run_id)}

    version = client.get_model_version_by_alias(MODEL_NAME, "candidate")
    assert version.run_id == run_id
    assert result["registered"]["version"] == version.version
    assert list(server.artifacts.rglob("MLmodel")), "model files not in the artifact store"
    # The journal of the outage has everything marked delivered.
    from train.tracking import Outbox

    journals = list(tmp_path.rglob("journal.jsonl"))
    assert journals and all(not Outbox.open(j.parent).pending for j in journals)
