"""`python -m train.evaluate --model URI --manifest PATH`: metrics of any model on any manifest.

Prints one JSON object; metrics that need a label appear only when the manifest carries it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from infer.inspector import Inspector
from infer.manifest import ManifestError, read_manifest
from infer.package import PackageError
from train.metrics import apply_parcel_calibration, pool_parcels, summarize

CHUNK = 256


def score_manifest(inspector: Inspector, manifest: str) -> tuple[pd.DataFrame, np.ndarray, list]:
    """Every photo of `manifest` scored: the manifest's rows with `logit` (calibrated counterfeit
    logit, NaN where unreadable) and `brand_pred`, the brand probabilities [N, B], the errors."""
    df = read_manifest(manifest)
    logits, probs, errors = [], [], []
    for start in tqdm(range(0, len(df), CHUNK), desc="evaluate", unit="chunk"):
        part = df["path"].iloc[start : start + CHUNK].tolist()
        scores = inspector.score_photos(part, names=part)
        logits.append(scores.counterfeit_logit)
        probs.append(scores.brand_probs)
        errors += scores.errors
    photos = df.copy()
    photos["logit"] = np.concatenate(logits) if logits else np.zeros(0)
    brand_probs = np.concatenate(probs) if probs else np.zeros((0, len(inspector.brands)))
    readable = np.isfinite(photos["logit"].to_numpy())
    best = np.nan_to_num(brand_probs, nan=-1.0).argmax(1) if len(brand_probs) else np.zeros(0, int)
    photos["brand_pred"] = [inspector.brands[k] if ok else "" for k, ok in zip(best, readable, strict=True)]
    return photos, brand_probs, errors


def parcels_of(photos: pd.DataFrame, brand_probs: np.ndarray, inspector: Inspector) -> pd.DataFrame:
    """The parcel probability the app is given: pooled, then the model's parcel recalibration."""
    return apply_parcel_calibration(
        pool_parcels(photos, brand_probs, inspector.brands, inspector.pooling), inspector.parcel_calibration
    )


def evaluate(inspector: Inspector, manifest: str, by: str | None = None,
             photos_out: str | None = None) -> dict:
    photos, brand_probs, errors = score_manifest(inspector, manifest)
    if photos_out:
        Path(photos_out).parent.mkdir(parents=True, exist_ok=True)
        photos[["path", "parcel_id", "target", "logit", "brand", "brand_pred"]].to_csv(
            photos_out, index=False, float_format="%.6g")
    if by and by not in photos.columns:
        raise ManifestError(f"{manifest}: no column {by!r} to break results down by")
    readable = np.isfinite(photos["logit"].to_numpy())
    result = _metrics(photos, brand_probs, readable, inspector)
    if (~readable).any():
        result["unreadable"] = [e for e in errors if e][:20]
    if by:
        result["by"] = {
            str(value): _metrics(photos[rows], brand_probs[rows], readable[rows], inspector)
            for value, rows in ((v, (photos[by] == v).to_numpy()) for v in sorted(photos[by].unique()))
        }
    result["model"] = inspector.identity
    result["backend"] = inspector.backend
    result["shoe_crop"] = bool(inspector.spec.shoe_crop)
    result["manifest"] = str(manifest)
    return result


def _metrics(photos: pd.DataFrame, brand_probs, readable, inspector) -> dict:
    parcels = parcels_of(photos, brand_probs, inspector)
    metrics = summarize(photos[readable], parcels)
    metrics["n_unreadable"] = int((~readable).sum())
    has_label = np.isfinite(photos["target"]).any()
    has_brand = (photos["brand"] != "").any()
    drop = set()
    if not has_label:
        drop |= {"photo_auroc", "parcel_auroc", "ece", "ece_floor", "photo_ece", "parcel_accuracy_at_0.5",
                 "n_counterfeit_parcels", "n_genuine_parcels"}
    if not has_brand:
        drop |= {"brand_accuracy", "photo_brand_accuracy"}
    return {k: v for k, v in metrics.items() if k not in drop}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__)
    parser.add_argument("--model", default=None, help="model folder or MLflow URI (default: newest)")
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--by", default=None, help="also report per value of this manifest column (e.g. kind)")
    # What the inspection app runs by default (`python -m infer --backend auto`) is what is
    # measured by default.
    parser.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto",
                        help="as `python -m infer --backend` (default auto: onnx when the package "
                        "has model.onnx)")
    parser.add_argument("--shoe-crop", action=argparse.BooleanOptionalAction, default=None,
                        help="as `python -m infer --shoe-crop` (default: as the package says)")
    parser.add_argument("--photos-out", default=None,
                        help="also write every photo's score (path, parcel_id, target, logit, brand, "
                        "brand_pred) to this CSV, to compare models photo by photo")
    args = parser.parse_args(argv)
    try:
        # The image model is what is measured here; labels have their own evaluation
        # (experiments/label-reading/evaluate.py).
        inspector = Inspector.load(args.model, backend=args.backend, shoe_crop=args.shoe_crop, labels=False)
        result = evaluate(inspector, args.manifest, args.by, args.photos_out)
    except (ManifestError, LookupError, FileNotFoundError, PackageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=lambda v: None if pd.isna(v) else str(v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
