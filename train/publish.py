"""Package and log a single-split run: the model folder that ships (weights, calibration,
band, not-a-shoe density, ONNX graph), logged to MLflow as a pyfunc and registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch

from infer.package import save_package
from train import tracking
from train.config import Config
from train.fit import Fitted
from train.prepare import write_holdout

NOT_REGISTERED = {"model_uri": None, "name": None, "version": None}


def package_meta(cfg: Config, fitted: Fitted, run_id: str) -> dict:
    """What `inspector.json` says beside the network's spec: how the package turns photo scores
    into a verdict, and which run made it."""
    cal = fitted.calibration
    return {
        "pooling": cal.pooling,
        "temperature": {"counterfeit": cal.cf_temp, "brand": cal.brand_temp},
        "parcel_calibration": cal.parcel.to_dict(),
        "band": cal.band.to_dict() if cal.band else None,
        "thresholds": cal.thresholds.__dict__,
        "model": {"name": cfg.tracking.register_as or None, "run_id": run_id},
        "counterfeit_trained": fitted.counterfeit_trained,
        "test_metrics": fitted.test,
    }


def serving_example(splits: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
    """Two readable photos of one held-out parcel, as the pyfunc's input example."""
    for name in ("test", "val", "train"):
        readable = splits[name][splits[name]["readable"]]
        if len(readable):
            pid = readable["parcel_id"].iloc[0]
            paths = list(readable.loc[readable["parcel_id"] == pid, "path"])[:2]
            return tracking.input_example(paths, parcel_id="example-parcel")
    return None


def package_and_register(cfg: Config, fitted: Fitted, splits: dict[str, pd.DataFrame], out: Path,
                         run_id: str) -> dict:
    """Write `out/holdout/` and `out/model/`, log the package and register it; returns the
    registered model's URI, name and version (None where tracking or registration is off)."""
    write_holdout(splits["test"], out / "holdout")
    net = fitted.net.to("cpu", memory_format=torch.contiguous_format)
    package_dir = save_package(out / "model", net, package_meta(cfg, fitted, run_id), fitted.ood,
                               onnx=cfg.model.export_onnx)
    return tracking.log_and_register(package_dir, cfg.tracking.register_as, cfg.tracking.alias,
                                     serving_example(splits))
