"""Log a `python -m train` run made with `tracking.enabled=false` (on a lent GPU machine, with
no store to reach) into this machine's MLflow store, so that it sits beside the CPU runs.

It logs what the run left in its output folder (no model is run again): the resolved config as
params, each fold's test numbers as a child run `fold-k`, the cross-validation summary on the
parent (`cv/*`, from cv_summary.json; for a run stopped before its last fold, the same summary
over the folds it finished, from their test tables, with `cv/folds` saying how many), the log
and the per-fold prediction tables as artifacts, and tags saying where it ran.

    python experiments/real-photos-gpu/log_to_mlflow.py runs/real-photos-gpu/aj1af1-lite2-384 \\
        --device "NVIDIA H200 (lent, session 20)"
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import mlflow
import pandas as pd

from infer.registry import tracking_uri
from train.config import flatten, load_config, to_dict
from train.cv import summarize_folds

FOLD_LINE = re.compile(r"^fold (\d+): (\{.*\})$")


def fold_results(run_dir: Path) -> dict[int, dict]:
    """{fold: test metrics}: from cv_summary.json when the run finished, else train.log."""
    summary = run_dir / "cv_summary.json"
    if summary.is_file():
        per_fold = json.loads(summary.read_text())["per_fold"]
        folds = len(next(iter(per_fold.values())))
        return {k: {m: v[k] for m, v in per_fold.items() if v[k] is not None} for k in range(folds)}
    found = {}
    for line in (run_dir / "train.log").read_text(errors="replace").splitlines():
        match = FOLD_LINE.match(line.strip())
        if match:
            found[int(match.group(1))] = json.loads(match.group(2))
    return found


def cv_metrics(run_dir: Path, folds: dict[int, dict], planned: int) -> dict[str, float]:
    summary = run_dir / "cv_summary.json"
    if summary.is_file():
        return {k: v for k, v in json.loads(summary.read_text())["metrics"].items() if v is not None}
    # Stopped before its last fold: the summary train.run would have written over the folds it
    # finished, from their test tables.
    done = sorted(folds)
    tables = {name: [pd.read_csv(run_dir / f"fold-{k}" / f"test_{name}.csv") for k in done]
              for name in ("photos", "parcels")}
    summary_, _ = summarize_folds([folds[k] for k in done], tables["photos"], tables["parcels"])
    return {**summary_["metrics"], "folds_planned": planned}


def log_run(run_dir: Path, device: str) -> str:
    cfg = load_config(run_dir / "config.yaml")
    folds = fold_results(run_dir)
    if not folds:
        raise SystemExit(f"{run_dir}: no fold results in cv_summary.json or train.log")
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(cfg.tracking.experiment)
    tags = {"device": device, "logged_from": str(run_dir), "tracking.enabled": "false at run time"}
    with mlflow.start_run(run_name=cfg.tracking.run_name, tags=tags) as parent:
        mlflow.log_params(flatten(to_dict(cfg)))
        mlflow.log_metrics({f"cv/{k}": float(v) for k, v in cv_metrics(run_dir, folds, cfg.data.folds).items()})
        for name in ("config.yaml", "cv_summary.json", "result.json", "train.log", "copies.csv"):
            if (run_dir / name).is_file():
                mlflow.log_artifact(str(run_dir / name))
        for k, test in sorted(folds.items()):
            with mlflow.start_run(run_name=f"fold-{k}", nested=True, tags=tags):
                mlflow.log_params({"fold": k, "folds": cfg.data.folds})
                mlflow.log_metrics({f"test/{m}": float(v) for m, v in test.items()})
                for table in sorted((run_dir / f"fold-{k}").glob("*.csv")):
                    mlflow.log_artifact(str(table), f"fold-{k}")
        return parent.info.run_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", type=Path)
    ap.add_argument("--device", required=True, help="where the runs ran, kept as a tag")
    args = ap.parse_args()
    for run_dir in args.run_dirs:
        print(f"{run_dir}: MLflow run {log_run(run_dir, args.device)}")


if __name__ == "__main__":
    main()
