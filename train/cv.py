"""Cross-validation: one fit per fold (child runs of one MLflow parent), resumable by fold, and
the summary: per-fold test metrics -> mean, spread, pooled out-of-fold AUROC."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from train import checkpoint, tracking
from train.metrics import auroc
from train.plots import roc_figure

HEADLINE = ("photo_auroc", "parcel_auroc", "brand_accuracy", "photo_brand_accuracy", "ece",
            "brand_accuracy_whole", "auto_coverage", "auto_error")


def summarize_folds(tests: list[dict], photos: list[pd.DataFrame], parcels: list[pd.DataFrame]):
    """(summary, figures). `metrics` holds `<m>_mean`/`<m>_std` (sample std over folds) and
    `oof_<level>_auroc`: AUROC of all out-of-fold predictions pooled, each fold calibrated on its
    own validation parcels (steadier than the fold mean when folds are small)."""
    metrics: dict[str, float] = {}
    per_fold = {m: [t.get(m) for t in tests] for m in HEADLINE}
    for name, values in per_fold.items():
        vals = np.array([v for v in values if v is not None], float)
        if len(vals):
            metrics[f"{name}_mean"] = float(vals.mean())
            metrics[f"{name}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
    all_photos = pd.concat([p.assign(fold=k) for k, p in enumerate(photos)], ignore_index=True)
    all_parcels = pd.concat([p.assign(fold=k) for k, p in enumerate(parcels)], ignore_index=True)
    for level, df in (("photo", all_photos), ("parcel", all_parcels)):
        if len(df) and "target" in df:
            value = auroc(df["target"], df["logit"])
            if value is not None:
                metrics[f"oof_{level}_auroc"] = value
    metrics["folds"] = len(tests)
    figures = {}
    if len(all_photos) and np.isfinite(all_photos["target"].to_numpy(float)).any():
        curves = {
            f"fold {k} (AUROC {t['photo_auroc']:.3f})": (
                p["target"].to_numpy(float), p["logit"].to_numpy(float))
            for k, (t, p) in enumerate(zip(tests, photos, strict=True)) if t.get("photo_auroc") is not None
        }
        figures["roc_photo_by_fold.png"] = roc_figure(curves)
    return {"metrics": metrics, "per_fold": per_fold}, figures


def cross_validate(cfg, data, ctx, out: Path, run_id: str, cv_state: dict | None) -> dict:
    """One child run per fold, mean and spread on the parent. After each fold the state file
    says it is done, so a resumed run (`cv_state`) keeps it and trains the rest. Returns the
    summary's metrics."""
    from train.fit import fit_and_evaluate
    from train.prepare import split_for

    state_path = out / checkpoint.CV_STATE
    state = cv_state or checkpoint.new_cv_state(cfg, run_id, data.folds_digest)
    if state.get("running"):
        tracking.end_left_open(state["running"].get("child_run_id"))
    results = []
    for k in range(cfg.data.run_folds or cfg.data.folds):
        if str(k) in state["finished"]:
            results.append(finished_fold(out / f"fold-{k}", state["finished"][str(k)]))
            print(f"fold {k}: kept from {state_path}: " + _headline(results[-1].test))
            continue
        with tracking.child_run(f"fold-{k}") as child:
            if ctx.main:
                state["running"] = {"fold": k, "child_run_id": child.info.run_id}
                checkpoint.save_cv_state(state, state_path)
            tracking.log_params({"fold": k, "folds": cfg.data.folds})
            splits = split_for(cfg, data, out, k, ctx.main)
            results.append(fit_and_evaluate(cfg, splits, data.images, data.brands, out / f"fold-{k}", ctx))
            print(f"fold {k}: " + _headline(results[-1].test))
        if ctx.main:
            state["finished"][str(k)] = results[-1].test
            state["running"] = None
            checkpoint.save_cv_state(state, state_path)
    summary, figures = summarize_folds([r.test for r in results], [r.photos for r in results],
                                       [r.parcels for r in results])
    tracking.log_metrics(summary["metrics"], "cv")
    tracking.log_json(summary, "cv/summary.json")
    tracking.log_figures(figures, "cv")
    if ctx.main:
        (out / "cv_summary.json").write_text(json.dumps(summary, indent=2))
    return summary["metrics"]


def _headline(test: dict) -> str:
    return json.dumps({m: test.get(m) for m in ("photo_auroc", "parcel_auroc", "brand_accuracy")})


def finished_fold(fold_dir: Path, test: dict):
    """A fold an earlier attempt of this run finished: its test metrics and tables, no model."""
    from train.fit import Fitted

    tables = []
    for name in ("test_photos.csv", "test_parcels.csv"):
        path = fold_dir / name
        if not path.is_file():
            raise checkpoint.ResumeError(f"{path}: missing, but {checkpoint.CV_STATE} says the fold "
                                         "finished; start a new output_dir")
        tables.append(pd.read_csv(path))
    return Fitted(None, None, None, test, *tables)
