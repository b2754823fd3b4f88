"""Sending one recorded tracking call (a dict with an "op") to a store with MlflowClient."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from train.tracking.model import log_model

PENDING_PREFIX = "pending-"  # id of a child run not yet created on the server


def now_ms() -> int:
    return int(time.time() * 1000)


def deliver(record: dict, client: MlflowClient, ids: dict[str, str]) -> Any:
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
        return log_model(run_id, Path(record["package_dir"]), record["register_as"],
                         record["alias"], example, progress)
    else:
        raise ValueError(f"unknown tracking call {op!r}")
    return None
