"""What a run logs: parameters, metrics, text, artifacts, figures and tables. Each call goes
through the open run's session (delivered now, or queued while the server is down)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient

from train.tracking import state
from train.tracking.delivery import PENDING_PREFIX, deliver, now_ms


def _submit(record: dict) -> Any:
    if state.session is not None:
        return state.session.submit(record)[1]
    # Outside start(): straight to MLflow's active run (started if none), as plain mlflow does.
    active = mlflow.active_run() or mlflow.start_run()
    record["run_id"] = active.info.run_id
    return deliver(record, MlflowClient(), {})


def log_params(params: dict) -> None:
    if not state.enabled:
        return
    # MLflow caps a param value at 6000 chars; 500 keeps the UI readable.
    _submit({"op": "params", "params": {k: str(v)[:500] for k, v in params.items()}})


def log_text(text: str, artifact_file: str) -> None:
    if state.enabled:
        _submit({"op": "text", "text": text, "artifact_file": artifact_file})


def log_artifact(path: str | Path, folder: str | None = None) -> None:
    if state.enabled:
        _submit({"op": "artifact", "path": str(path), "artifact_path": folder})


def log_metrics(metrics: dict, prefix: str, step: int | None = None) -> None:
    if not state.enabled:
        return
    clean = {f"{prefix}/{k}": float(v) for k, v in metrics.items() if v is not None}
    if clean:
        _submit({"op": "metrics", "metrics": clean, "step": int(step or 0), "timestamp": now_ms()})


def log_figures(figures: dict, folder: str) -> None:
    import matplotlib.pyplot as plt

    for name, fig in figures.items():
        if state.enabled:
            artifact_file = f"{folder}/{name}"
            parent, _, filename = artifact_file.rpartition("/")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / filename
                fig.savefig(path)
                _submit({"op": "artifact", "path": str(path), "artifact_path": parent or None})
        plt.close(fig)


def log_table(table: pd.DataFrame, name: str) -> None:
    if not state.enabled or table is None or table.empty:
        return
    split = json.loads(table.reset_index().to_json(orient="split", index=False))
    _submit({"op": "table", "table": split, "artifact_file": f"{name}.json"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        table.to_csv(path, float_format="%.4f")
        _submit({"op": "artifact", "path": str(path), "artifact_path": "evaluation"})


def log_json(data: dict, artifact_file: str) -> None:
    log_text(json.dumps(data, indent=2, sort_keys=True, default=str), artifact_file)


def end_left_open(run_id: str | None, status: str = "KILLED") -> None:
    """Close a run that an earlier process left open: a fold's child run when the process was
    killed mid-fold, which MLflow would otherwise show as running for ever."""
    if not state.enabled or not run_id or run_id.startswith(PENDING_PREFIX):
        return
    _submit({"op": "terminate", "run_id": run_id, "status": status, "end_time": now_ms()})
