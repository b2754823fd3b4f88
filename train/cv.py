"""Cross-validation summary: per-fold test metrics -> mean, spread, pooled out-of-fold AUROC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from train.metrics import auroc
from train.plots import roc_figure

HEADLINE = ("photo_auroc", "parcel_auroc", "brand_accuracy", "photo_brand_accuracy", "ece",
            "photo_auroc_hflip_tta", "parcel_auroc_hflip_tta", "photo_auroc_whole", "parcel_auroc_whole",
            "brand_accuracy_whole",
            "auto_coverage", "auto_error")


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
