"""`python -m train.recertify --model URI --manifest CAL.csv --out FOLDER`: choose a trained
model's review band again, on more labelled parcels than its validation split held.

The band's guarantee costs data (a 2% target needs a few hundred correctly decided parcels,
see README "Calibration and the review band"), and a validation split sized for choosing an
epoch is often too small to certify anything. This scores a labelled manifest of parcels the
model never trained on, exactly as the app would (photo temperatures, pooling, parcel
recalibration: nothing is refitted), runs the same Learn-then-Test choice as training
(`train.band.choose_band`), and writes a copy of the package whose band and thresholds come
from that manifest, with where they came from. Weights, temperatures and the not-a-shoe density
are untouched, so the guarantee holds for new parcels exchangeable with the manifest's.

The manifest must be parcels drawn like the ones the model will judge. The liaison's review
queue is not such a sample on its own: it holds the parcels the model was unsure of, plus an
audit share of the rest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from infer.inspector import Inspector
from infer.manifest import ManifestError
from infer.package import META_FILE, find_package
from infer.registry import resolve
from train.band import Band, choose_band, selective_error
from train.evaluate import parcels_of, score_manifest
from train.metrics import ece, ece_floor


class RecertifyError(ValueError):
    pass


def labelled_parcels(inspector: Inspector, manifest: str) -> pd.DataFrame:
    """The manifest's parcels with a label, scored as the app scores them (`prob`, `target`)."""
    photos, brand_probs, _ = score_manifest(inspector, manifest)
    parcels = parcels_of(photos, brand_probs, inspector)
    return parcels[np.isfinite(parcels["target"])]


def band_on(lab: pd.DataFrame, target_error: float, delta: float) -> Band:
    if lab.empty:
        raise RecertifyError("no labelled parcel (genuine | counterfeit) to choose a band on")
    return choose_band(lab["prob"], lab["target"], target_error, delta)


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RecertifyError(f"{out}: exists and is not an empty folder; choose a new one")


def write_package(source: Path, out: Path, band: Band, provenance: dict) -> Path:
    """A copy of the package at `source` with `band` and its thresholds in its metadata."""
    _check_out(out)
    shutil.copytree(source, out, dirs_exist_ok=True)
    meta_path = out / META_FILE
    meta = json.loads(meta_path.read_text())
    thresholds = dict(meta.get("thresholds", {}))
    thresholds.update(genuine_below=band.genuine_below, counterfeit_above=band.counterfeit_above)
    meta["band_history"] = [*meta.get("band_history", []),
                            {"band": meta.get("band"), "thresholds": meta.get("thresholds")}]
    meta.update(band=band.to_dict(), thresholds=thresholds, band_source=provenance)
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return out


def recertify(model: str | None, manifest: str, out: str | Path, target_error: float = 0.02,
              delta: float = 0.1, test_manifest: str | None = None) -> dict:
    """Choose the band on `manifest`, write the re-banded package to `out`; with
    `test_manifest`, also report what the new band does on parcels it was not chosen on."""
    _check_out(Path(out))  # before minutes of scoring, not after
    folder, identity = resolve(None if model is None else str(model))
    source = find_package(folder)
    # The band is chosen on the calibrated image probability, which the labels never change:
    # reading every photo's print would cost minutes and decide nothing here.
    inspector = Inspector.load(source, labels=False)
    inspector.identity.update({k: v for k, v in identity.items() if v is not None})
    lab = labelled_parcels(inspector, manifest)
    band = band_on(lab, target_error, delta)
    provenance = {
        "manifest": str(Path(manifest).resolve()),
        "manifest_sha256": hashlib.sha256(Path(manifest).read_bytes()).hexdigest(),
        "parcels": int(len(lab)), "target_error": target_error, "delta": delta,
        "chosen_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_model": inspector.identity,
    }
    written = write_package(source, Path(out), band, provenance)
    result = {
        "package": str(written), "certified": band.n_auto > 0, "band": band.to_dict(),
        "previous_band": inspector.meta.get("band"),
        "calibration_set": {"parcels": int(len(lab)), "ece": ece(lab["target"], lab["prob"]),
                            "ece_floor": ece_floor(lab["prob"])},
    }
    if test_manifest:
        result["test"] = decided_on(inspector, test_manifest, band.confidence)
    return result


def decided_on(inspector: Inspector, manifest: str, confidence: float) -> dict:
    """Share decided automatically and error among them, on another labelled manifest."""
    lab = labelled_parcels(inspector, manifest)
    n_auto, errors = selective_error(lab["prob"].to_numpy(float), lab["target"].to_numpy(float), confidence)
    return {"manifest": str(manifest), "parcels": int(len(lab)), "decided": n_auto,
            "coverage": n_auto / len(lab) if len(lab) else 0.0, "errors": errors,
            "error": errors / n_auto if n_auto else None,
            "ece": ece(lab["target"], lab["prob"]), "ece_floor": ece_floor(lab["prob"])}


def register(folder: Path, name: str, alias: str, experiment: str, params: dict, metrics: dict,
             manifest: str) -> dict:
    """Log the re-banded package in a run of its own and register it under `name` / `alias`,
    with the first parcel of `manifest` as the serving example."""
    import mlflow

    from infer.manifest import read_manifest
    from infer.registry import tracking_uri
    from train.tracking.model import input_example, log_model

    df = read_manifest(manifest)
    first = df[df["parcel_id"] == df["parcel_id"].iloc[0]]
    example = input_example(first["path"].head(3).tolist(), str(first["parcel_id"].iloc[0]))

    mlflow.set_tracking_uri(tracking_uri())
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name="recertify") as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(json.loads((folder / META_FILE).read_text()), "recertify/inspector.json")
        return log_model(run.info.run_id, folder, name, alias, example)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.recertify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder or MLflow URI (default: newest)")
    parser.add_argument("--manifest", required=True, help="labelled parcels the model never trained on")
    parser.add_argument("--out", required=True, help="new folder for the re-banded package")
    parser.add_argument("--target-error", type=float, default=0.02)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--test-manifest", default=None,
                        help="another labelled manifest: report coverage and error of the new band on it")
    parser.add_argument("--register", default=None, metavar="NAME", help="register the new package as NAME")
    parser.add_argument("--alias", default="candidate")
    parser.add_argument("--experiment", default="recertify")
    args = parser.parse_args(argv)
    try:
        result = recertify(args.model, args.manifest, args.out, args.target_error, args.delta,
                           args.test_manifest)
    except (RecertifyError, ManifestError, LookupError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.register:
        band = result["band"]
        metrics = {f"band/{k}": float(v) for k, v in band.items() if isinstance(v, int | float)}
        result["registered"] = register(
            Path(result["package"]), args.register, args.alias, args.experiment,
            {"source_model": args.model or "newest", "manifest": args.manifest,
             "target_error": args.target_error, "delta": args.delta}, metrics, args.manifest)
    print(json.dumps(result, indent=2, default=lambda v: None if pd.isna(v) else str(v)))
    if not result["certified"]:
        print(f"note: no band candidate passed the {args.target_error:.0%} target on "
              f"{result['band']['n']} parcels; the package sends every parcel to review",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
