"""Score the held-out test parcels of a fit exactly as the package will serve them: metrics,
the recall-by-view-and-defect map, figures and tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from infer.model import InspectorNet
from infer.ood import FeatureDensity
from train import tracking
from train.calibrate import Calibration, band_metrics, score_with
from train.config import Config
from train.metrics import recall_by_view_and_defect, summarize
from train.plots import evaluation_figures
from train.shoe_crop_eval import brand_logits_with_shoe_crop


def score_test(cfg: Config, net: InspectorNet, test_split: pd.DataFrame, images: np.ndarray,
               brands: list[str], cal: Calibration, ood: FeatureDensity | None, score, out: Path,
               main: bool) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """(test metrics, photo table, parcel table); all empty without test parcels. `score` is the
    fit's `Scorer`; tables and figures are written by the main process only."""
    if not len(test_split):
        return {}, pd.DataFrame(), pd.DataFrame()
    *outputs, features = score(images[test_split.index.to_numpy()], "test", features=True)
    whole_brand = n_cropped = None
    if net.spec.shoe_crop and brands:
        # The package reads the brand from the whole photo and a crop around the shoe: test it
        # that way, and log what the whole photo alone reads beside it.
        whole_brand = summarize(*score_with(test_split, outputs, brands, cal)).get("brand_accuracy")
        crop_logits, n_cropped = brand_logits_with_shoe_crop(net, test_split, outputs[1], cal.brand_temp,
                                                             cfg.train.batch_size * 2)
        outputs = [outputs[0], crop_logits]
    photos, parcels = score_with(test_split, outputs, brands, cal)
    test = summarize(photos, parcels) | band_metrics(parcels, cal.thresholds)
    if whole_brand is not None:
        test["brand_accuracy_whole"] = whole_brand
        test["shoe_crop_share"] = n_cropped / max(1, int(test_split["readable"].sum()))
    ok = test_split["readable"].to_numpy()
    if ood is not None and ok.any():
        test["ood_flag_rate"] = float((ood.score(features[ok]) > ood.threshold).mean())
    tracking.log_metrics(test, "test")
    table = recall_by_view_and_defect(photos)
    tracking.log_table(table, "recall_by_view_defect")
    if main:
        tracking.log_figures(evaluation_figures(photos, parcels, brands, table), "evaluation")
        photos.drop(columns=["readable"]).to_csv(out / "test_photos.csv", index=False)
        parcels.to_csv(out / "test_parcels.csv", index=False)
        if not table.empty:
            table.to_csv(out / "recall_by_view_defect.csv", float_format="%.4f")
    return test, photos, parcels
