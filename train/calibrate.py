"""From raw network outputs to calibrated parcels: pooling, temperatures, parcel recalibration
and the review band, all chosen on validation parcels at the end of training."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from infer.calibration import ParcelCalibration
from infer.model import softmax
from infer.verdict import Thresholds
from train import tracking
from train.band import Band, choose_band, decided_errors
from train.metrics import (
    apply_parcel_calibration,
    choose_pooling,
    fit_brand_temperature,
    fit_counterfeit_temperature,
    fit_parcel_calibration,
    pool_parcels,
    summarize,
)

DEFAULT_POOLING = "log_mean_exp"
BAND_MODES = ("auto", "fixed")


@dataclass
class Calibration:
    pooling: str
    thresholds: Thresholds
    cf_temp: float = 1.0
    brand_temp: float = 1.0
    parcel: ParcelCalibration = field(default_factory=ParcelCalibration)
    band: Band | None = None

    @classmethod
    def fixed(cls, cfg) -> Calibration:
        """What ships without validation parcels: the configured pooling and thresholds."""
        if cfg.verdict.band not in BAND_MODES:
            raise ValueError(f"verdict.band must be one of {BAND_MODES}, got {cfg.verdict.band!r}")
        pooling = DEFAULT_POOLING if cfg.verdict.pooling == "auto" else cfg.verdict.pooling
        return cls(pooling, Thresholds(cfg.verdict.genuine_below, cfg.verdict.counterfeit_above,
                                       cfg.verdict.min_brand_probability))


def score_split(df, outputs, brands, pooling, cf_temp=1.0, brand_temp=1.0, parcel_cal=None):
    """Per-photo and per-parcel tables from raw network outputs, for one pooling/calibration."""
    cf_logits, brand_logits = outputs
    photos = df.copy()
    photos["logit"] = np.where(df["readable"].to_numpy(), cf_logits / cf_temp, np.nan)
    probs = softmax(brand_logits, brand_temp)
    photos["brand_pred"] = [brands[k] for k in probs.argmax(1)]
    photos["brand_prob"] = probs.max(1)
    parcels = pool_parcels(photos, probs, brands, pooling)
    if parcel_cal is not None:
        parcels = apply_parcel_calibration(parcels, parcel_cal)
    return photos, parcels


def score_with(df, outputs, brands, cal: Calibration):
    return score_split(df, outputs, brands, cal.pooling, cal.cf_temp, cal.brand_temp, cal.parcel)


def calibrate(cfg, val: pd.DataFrame, val_outputs, brands) -> tuple[Calibration, pd.DataFrame]:
    """Fit everything on validation parcels (logged to MLflow); returns it with the calibrated
    validation parcels the band was chosen on."""
    cal = Calibration.fixed(cfg)
    brand_logits = val_outputs[1]
    photos, _ = score_split(val, val_outputs, brands, DEFAULT_POOLING)
    if cfg.verdict.pooling == "auto":
        cal.pooling, pooling_scores = choose_pooling(photos, softmax(brand_logits), brands)
        tracking.log_metrics(pooling_scores, "val/pooling_parcel_auroc")
    cal.cf_temp = fit_counterfeit_temperature(photos, cal.pooling)
    brand_index = np.array([brands.index(b) if b in brands else -1 for b in val["brand"]])
    cal.brand_temp = fit_brand_temperature(brand_logits, brand_index)
    before = summarize(*score_split(val, val_outputs, brands, cal.pooling))
    _, val_parcels = score_split(val, val_outputs, brands, cal.pooling, cal.cf_temp, cal.brand_temp)
    cal.parcel = fit_parcel_calibration(val_parcels)
    val_parcels = apply_parcel_calibration(val_parcels, cal.parcel)
    after = summarize(*score_with(val, val_outputs, brands, cal))
    tracking.log_metrics(
        {"counterfeit_temperature": cal.cf_temp, "brand_temperature": cal.brand_temp,
         "parcel_a": cal.parcel.a, "parcel_b": cal.parcel.b,
         "ece_before": before["ece"], "ece_after": after["ece"]},
        "calibration",
    )
    if cfg.verdict.band == "auto":
        lab = val_parcels[np.isfinite(val_parcels["target"])]
        cal.band = choose_band(lab["prob"], lab["target"], cfg.verdict.target_error, cfg.verdict.band_delta)
        cal.thresholds = Thresholds(cal.band.genuine_below, cal.band.counterfeit_above,
                                    cfg.verdict.min_brand_probability)
        tracking.log_metrics(
            {k: v for k, v in cal.band.to_dict().items() if isinstance(v, int | float)}, "band")
        tracking.log_json(cal.band.to_dict(), "band.json")
    return cal, val_parcels


def band_metrics(parcels: pd.DataFrame, thresholds: Thresholds) -> dict:
    """Share of parcels decided without a person, and the error among those, at `thresholds`
    (counterfeit probability only; brand uncertainty is left out of this count)."""
    lab = parcels[np.isfinite(parcels["target"])]
    if lab.empty:
        return {}
    n_auto, errors = decided_errors(lab["prob"].to_numpy(float), lab["target"].to_numpy(float),
                                    thresholds.genuine_below, thresholds.counterfeit_above)
    return {"auto_coverage": n_auto / len(lab),
            "auto_error": errors / n_auto if n_auto else 0.0,
            "auto_decided": n_auto}
