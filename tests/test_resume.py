"""Checkpoints and resume: a run SIGKILLed after its first checkpoint and resumed with
`resume=auto` ends where an uninterrupted run with the same seed ends, in one MLflow run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from mlflow import MlflowClient

from tests.conftest import REPO, run_module
from train import checkpoint

# Same seed, same data, epoch-seeded randomness: the runs should agree to float rounding.
# The tolerance allows for reduction-order differences in threaded CPU kernels.
TOLERANCE = 1e-6
EPOCHS = 3


def train_args(work, name):
    return ["train", "--config", str(REPO / "configs" / "smoke.yaml"), f"output_dir={work / name}",
            f"data.synthetic.out_dir={work / 'synthetic'}", f"train.epochs={EPOCHS}",
            "train.max_steps_per_epoch=0", "tracking.register_as=", "model.export_onnx=false"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, new_store):
    work = tmp_path_factory.mktemp("resume")
    env = {"MLFLOW_TRACKING_URI": new_store(work)}
    straight = run_module(train_args(work, "straight"), cwd=work, env=env)
    assert straight.returncode == 0, straight.stderr[-3000:]

    args = [sys.executable, "-m", *train_args(work, "killed")]
    proc = subprocess.Popen(args, cwd=work, env={**os.environ, "PYTHONPATH": str(REPO), **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = work / "killed" / "checkpoints" / "last.pt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = checkpoint.load(last)["epoch"]
    resumed = run_module([*train_args(work, "killed"), "resume=auto"], cwd=work, env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return {
        "work": work, "env": env, "killed_at": killed_at, "resumed": resumed,
        "straight": json.loads((work / "straight" / "result.json").read_text()),
        "after": json.loads((work / "killed" / "result.json").read_text()),
    }


# Slow (~65 s: three training processes): `python -m pytest -m slow`; see the README, "Tests".
@pytest.mark.slow
def test_resumed_run_ends_with_the_same_test_metrics(runs):
    assert runs["killed_at"] < EPOCHS - 1, "the run finished before it was killed"
    assert "resumed after epoch" in runs["resumed"].stdout
    for name in ("photo_auroc", "parcel_auroc", "brand_accuracy", "ece"):
        a, b = runs["straight"]["test"][name], runs["after"]["test"][name]
        assert abs(a - b) <= TOLERANCE, (name, a, b)


@pytest.mark.slow
def test_resumed_run_continues_the_same_mlflow_run(runs):
    client = MlflowClient(tracking_uri=runs["env"]["MLFLOW_TRACKING_URI"])
    run_id = runs["after"]["run_id"]
    assert run_id == checkpoint.load(runs["work"] / "killed" / "checkpoints" / "last.pt")["run_id"]
    history = client.get_metric_history(run_id, "train/loss")
    assert sorted(m.step for m in history) == list(range(EPOCHS))
    assert client.get_run(run_id).info.status == "FINISHED"
    straight = client.get_metric_history(runs["straight"]["run_id"], "train/loss")
    by_step = {m.step: m.value for m in straight}
    for m in history:
        assert abs(m.value - by_step[m.step]) <= TOLERANCE


@pytest.mark.slow
def test_checkpoints_load_with_weights_only_and_hold_the_full_state(runs):
    last = torch.load(runs["work"] / "killed" / "checkpoints" / "last.pt", weights_only=True)
    for key in ("model", "optimizer", "scheduler", "rng", "epoch", "run_id", "best_epoch"):
        assert key in last
    assert last["epoch"] == EPOCHS - 1
    assert not list((runs["work"] / "killed" / "checkpoints").glob(".*.tmp"))


@pytest.mark.slow
def test_resume_refuses_a_different_config(runs):
    proc = run_module([*train_args(runs["work"], "killed"), "resume=auto", "train.lr=0.5"],
                      cwd=runs["work"], env=runs["env"])
    assert proc.returncode == 2
    assert "different config" in proc.stderr and "train.lr" in proc.stderr


def test_resume_from_a_missing_path_names_it(tmp_path):
    proc = run_module(["train", "--config", str(REPO / "configs" / "smoke.yaml"),
                       f"resume={tmp_path / 'nope.pt'}"], cwd=tmp_path)
    assert proc.returncode == 2 and "nope.pt" in proc.stderr


def test_keys_that_may_differ_on_resume_are_ignored_in_older_checkpoints():
    """A checkpoint written before `data.run_folds` became resumable still holds that key."""
    from train.config import load_config

    cfg = load_config(REPO / "configs" / "smoke.yaml", [])
    now = checkpoint.config_fingerprint(cfg)
    assert "data.run_folds" not in now
    checkpoint.check_same_config({"config": {**now, "data.run_folds": "0"}}, cfg, "old.pt")
    with pytest.raises(checkpoint.ResumeError, match="train.lr"):
        checkpoint.check_same_config({"config": {**now, "train.lr": "9"}}, cfg, "old.pt")
