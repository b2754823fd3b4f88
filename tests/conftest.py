"""Shared fixtures: one smoke-sized training run per test session, in a scratch folder.

Like lightning-hydra-template's tests, the real entry point runs with the config shrunk to
seconds on CPU; tests then look at what it produced (MLflow run, registry, model files).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def free_port() -> int:
    """A local TCP port nothing listens on (for servers a test starts, or a URI that must fail)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_module(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 600):
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def new_store(tmp_path_factory):
    """`new_store(folder, name="mlflow.db")` -> the URI of an empty MLflow sqlite store there.

    A store created from nothing spends ~4 s on its schema migrations, and a dozen tests each
    start one: one store is migrated per session and copied. Its Default experiment's artifact
    root is moved to `folder/mlruns/0`, where a store created in `folder` would have put it."""
    from mlflow import MlflowClient

    template = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{template}").search_experiments()

    def make(folder: Path, name: str = "mlflow.db") -> str:
        path = Path(folder) / name
        shutil.copyfile(template, path)
        with sqlite3.connect(path) as db:
            db.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0",
                       (str(Path(folder).resolve() / "mlruns" / "0"),))
        db.close()
        return f"sqlite:///{path}"

    return make


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, new_store):
    """Train configs/smoke.yaml once; returns paths, tracking URI and the run's result.json."""
    work = tmp_path_factory.mktemp("smoke")
    tracking = new_store(work)
    env = {"MLFLOW_TRACKING_URI": tracking}
    proc = run_module(
        [
            "train",
            "--config", str(REPO / "configs" / "smoke.yaml"),
            f"output_dir={work / 'run'}",
            f"data.synthetic.out_dir={work / 'synthetic'}",
            "tracking.preview_images=true",
        ],
        cwd=work,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((work / "run" / "result.json").read_text())
    return {
        "work": work,
        "env": env,
        "tracking_uri": tracking,
        "result": result,
        "manifest": work / "synthetic" / "manifest.csv",
        "output_dir": work / "run",
        "stdout": proc.stdout,
        "stderr": proc.stderr,
    }


@pytest.fixture(scope="module")
def smoke_registry(smoke_run):
    """In-process code of one test module (Inspector.load, mlflow.pyfunc, infer.registry)
    resolves models:/ URIs in the smoke run's registry, and stops doing so after the module.

    mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI but skips both when the URI is
    unchanged, so a test that unset the variable would leave it unset: reset to None first."""
    import mlflow

    mlflow.set_tracking_uri(None)
    mlflow.set_tracking_uri(smoke_run["tracking_uri"])
    yield smoke_run["tracking_uri"]
    mlflow.set_tracking_uri(None)
