"""`python -m train.log_to_mlflow RUN_DIR... --device TEXT`: log a finished run folder into MLflow.

A run made with `tracking.enabled=false` (on a lent GPU machine, or anywhere without a store
to reach) keeps its numbers in its output folder. This logs what the folder holds, without
running any model again, so the run sits in the store beside the others:

* the resolved config as params, tags saying where it ran (`--device`) and where it was logged
  from;
* a cross-validation run: each fold's test numbers as a child run `fold-k` with its tables, and
  the summary on the parent (`cv/*`, from cv_summary.json; for a run stopped before its last
  fold, the same summary over the folds it finished, from their test tables, with `cv/folds`
  saying how many);
* a single-split run: its `test/*` numbers and tables, and its model package logged as the
  pyfunc and registered under `tracking.register_as` with `tracking.alias`, as the run itself
  would have done.

    python -m train.log_to_mlflow runs/real-photos-gpu/aj1af1-lite2-384 --device "NVIDIA H200"
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path

import mlflow
import pandas as pd

from infer.registry import tracking_uri
from train.config import Config, flatten, load_config, to_dict
from train.cv import summarize_folds

FOLD_LINE = re.compile(r"^fold (\d+): (\{.*\})$")
RUN_FILES = ("config.yaml", "cv_summary.json", "result.json", "train.log", "copies.csv", "split.csv",
             "test_photos.csv", "test_parcels.csv", "val_parcels.csv", "recall_by_view_defect.csv")


def fold_results(run_dir: Path) -> dict[int, dict]:
    """{fold: test metrics}: from cv_summary.json when the run finished, else train.log."""
    summary = run_dir / "cv_summary.json"
    if summary.is_file():
        per_fold = json.loads(summary.read_text())["per_fold"]
        folds = len(next(iter(per_fold.values())))
        return {k: {m: v[k] for m, v in per_fold.items() if v[k] is not None} for k in range(folds)}
    found = {}
    log = run_dir / "train.log"
    for line in (log.read_text(errors="replace").splitlines() if log.is_file() else []):
        match = FOLD_LINE.match(line.strip())
        if match:
            found[int(match.group(1))] = json.loads(match.group(2))
    return found


def cv_metrics(run_dir: Path, folds: dict[int, dict], planned: int) -> dict[str, float]:
    summary = run_dir / "cv_summary.json"
    if summary.is_file():
        return {k: v for k, v in json.loads(summary.read_text())["metrics"].items() if v is not None}
    # Stopped before its last fold: the summary the run would have written, over the folds it
    # finished, from their test tables.
    done = sorted(folds)
    tables = {name: [pd.read_csv(run_dir / f"fold-{k}" / f"test_{name}.csv") for k in done]
              for name in ("photos", "parcels")}
    summary_, _ = summarize_folds([folds[k] for k in done], tables["photos"], tables["parcels"])
    return {**summary_["metrics"], "folds_planned": planned}


def log_folds(run_dir: Path, cfg: Config, tags: dict) -> None:
    folds = fold_results(run_dir)
    if not folds:
        raise SystemExit(f"{run_dir}: no fold results in cv_summary.json or train.log")
    mlflow.log_metrics({f"cv/{k}": float(v) for k, v in cv_metrics(run_dir, folds, cfg.data.folds).items()})
    for k, test in sorted(folds.items()):
        with mlflow.start_run(run_name=f"fold-{k}", nested=True, tags=tags):
            mlflow.log_params({"fold": k, "folds": cfg.data.folds})
            mlflow.log_metrics({f"test/{m}": float(v) for m, v in test.items()})
            for table in sorted((run_dir / f"fold-{k}").glob("*.csv")):
                mlflow.log_artifact(str(table), f"fold-{k}")


def log_single_split(run_dir: Path, cfg: Config, run_id: str) -> dict:
    """Test metrics from result.json, then the package (with this run's id written into its
    inspector.json, which serving reads to name its version) logged and registered."""
    result_file = run_dir / "result.json"
    if not result_file.is_file():
        raise SystemExit(f"{run_dir}: no result.json; the run did not finish")
    test = json.loads(result_file.read_text()).get("test") or {}
    mlflow.log_metrics({f"test/{k}": float(v) for k, v in test.items() if isinstance(v, int | float)})
    if (run_dir / "holdout").is_dir():
        mlflow.log_artifacts(str(run_dir / "holdout"), "holdout")
    package = run_dir / "model"
    if not (package / "inspector.json").is_file():
        return {"model_uri": None, "name": None, "version": None}
    from train.tracking.model import log_model

    with tempfile.TemporaryDirectory(prefix="logged-package-") as tmp:
        copy = Path(shutil.copytree(package, Path(tmp) / "model"))
        meta = json.loads((copy / "inspector.json").read_text())
        meta.setdefault("model", {})["run_id"] = run_id
        (copy / "inspector.json").write_text(json.dumps(meta, indent=2))
        return log_model(run_id, copy, cfg.tracking.register_as, cfg.tracking.alias, None)


def log_run(run_dir: Path, device: str) -> str:
    cfg = load_config(run_dir / "config.yaml")
    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(cfg.tracking.experiment)
    tags = {"device": device, "logged_from": str(run_dir), "tracking.enabled": "false at run time"}
    with mlflow.start_run(run_name=cfg.tracking.run_name or None, tags=tags) as parent:
        mlflow.log_params(flatten(to_dict(cfg)))
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                mlflow.log_artifact(str(run_dir / name))
        if cfg.data.folds:
            log_folds(run_dir, cfg, tags)
        else:
            registered = log_single_split(run_dir, cfg, parent.info.run_id)
            if registered.get("version"):
                print(f"{run_dir}: registered {registered['name']} version {registered['version']}")
        return parent.info.run_id


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m train.log_to_mlflow", description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+", type=Path)
    ap.add_argument("--device", required=True, help="where the runs ran, kept as a tag")
    args = ap.parse_args(argv)
    for run_dir in args.run_dirs:
        print(f"{run_dir}: MLflow run {log_run(run_dir, args.device)}")


if __name__ == "__main__":
    main()
