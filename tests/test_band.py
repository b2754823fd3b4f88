"""The review band's guarantee and the parcel recalibration."""

from __future__ import annotations

import numpy as np
import pytest

from infer.calibration import ParcelCalibration
from train.band import GRID, choose_band, error_upper_bound, selective_error


def simulated(n, rng, sharpness=4.0):
    """Calibrated probabilities: y ~ Bernoulli(p), p from a fairly confident model."""
    z = rng.normal(0, sharpness, n)
    p = 1 / (1 + np.exp(-z))
    y = (rng.random(n) < p).astype(float)
    return p, y


def test_upper_bound_is_conservative_and_shrinks_with_n():
    assert error_upper_bound(0, 0, 0.1) == 1.0
    assert error_upper_bound(0, 10, 0.1) > 0.2
    assert error_upper_bound(0, 1000, 0.1) < 0.003
    assert error_upper_bound(5, 100, 0.1) > 0.05


def test_band_error_holds_on_fresh_parcels_far_more_often_than_one_minus_delta():
    rng = np.random.default_rng(0)
    target, delta, violations, coverages = 0.05, 0.1, 0, []
    for _ in range(200):
        band = choose_band(*simulated(600, rng), target_error=target, delta=delta)
        p_new, y_new = simulated(20000, rng)
        n_auto, errors = selective_error(p_new, y_new, band.confidence)
        if n_auto:
            violations += errors / n_auto > target
            coverages.append(n_auto / len(p_new))
    assert violations / 200 <= delta
    assert np.mean(coverages) > 0.3  # the guarantee is not bought by deciding nothing


def test_band_sends_everything_to_review_when_it_cannot_certify():
    rng = np.random.default_rng(1)
    p = rng.random(50)
    y = (rng.random(50) < 0.5).astype(float)  # probabilities unrelated to the truth
    band = choose_band(p, y, target_error=0.02)
    assert band.n_auto == 0 and band.coverage == 0.0
    assert band.genuine_below == 0.0 and band.counterfeit_above == 1.0


def test_band_reports_what_it_achieved_on_validation():
    rng = np.random.default_rng(2)
    p, y = simulated(2000, rng, sharpness=8.0)
    band = choose_band(p, y, target_error=0.02, delta=0.1)
    assert band.confidence in GRID
    n_auto, errors = selective_error(p, y, band.confidence)
    assert (band.n_auto, band.errors) == (n_auto, errors)
    assert band.error <= band.error_upper_bound <= 0.02
    d = band.to_dict()
    assert d["coverage"] == pytest.approx(n_auto / 2000)
    with pytest.raises(ValueError):
        choose_band(p, y, target_error=0.0)


def test_parcel_calibration_is_affine_on_the_logit_and_round_trips():
    cal = ParcelCalibration(a=0.5, b=-1.0)
    np.testing.assert_allclose(cal(np.array([0.0, 2.0])), [-1.0, 0.0])
    assert ParcelCalibration.from_dict(cal.to_dict()) == cal
    assert ParcelCalibration.from_dict(None) == ParcelCalibration()


def test_platt_fit_removes_a_bias_that_temperature_cannot():
    import pandas as pd

    from train.metrics import apply_parcel_calibration, ece, fit_parcel_calibration

    rng = np.random.default_rng(3)
    true_logit = rng.normal(0, 2, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-true_logit))).astype(float)
    parcels = pd.DataFrame({"target": y, "logit": true_logit + 1.5})  # biased upwards
    parcels["prob"] = 1 / (1 + np.exp(-parcels["logit"]))
    cal = fit_parcel_calibration(parcels)
    assert cal.b == pytest.approx(-1.5, abs=0.2) and cal.a == pytest.approx(1.0, abs=0.1)
    fixed = apply_parcel_calibration(parcels, cal)
    assert ece(y, fixed["prob"]) < 0.02 < ece(y, parcels["prob"])
    assert (np.argsort(fixed["logit"]) == np.argsort(parcels["logit"])).all()


def test_band_cli_sweeps_targets_from_a_runs_parcels(tmp_path, capsys):
    import json

    import pandas as pd

    from train.band import main

    rng = np.random.default_rng(3)
    for name, n in (("val_parcels.csv", 800), ("test_parcels.csv", 4000)):
        p, y = simulated(n, rng, sharpness=6.0)
        pd.DataFrame({"parcel_id": range(n), "prob": p, "target": y}).to_csv(tmp_path / name, index=False)
    assert main([str(tmp_path), "--targets", "0.02", "0.1"]) == 0
    rows = json.loads(capsys.readouterr().out)["bands"]
    assert [r["target_error"] for r in rows] == [0.02, 0.1]
    strict, loose = rows
    # A looser target decides more parcels, and the test error stays under each target.
    assert loose["test_coverage"] > strict["test_coverage"] > 0
    assert loose["test_error"] <= 0.1 and strict["test_error"] <= 0.02
    assert main([str(tmp_path / "missing")]) == 2


def test_ece_floor_is_what_a_perfectly_calibrated_model_shows_and_shrinks_with_n():
    from train.metrics import ece, ece_floor

    rng = np.random.default_rng(5)
    p, y = simulated(360, rng)
    floor = ece_floor(p)
    # Outcomes drawn from p itself: ECE is noise only, and the floor predicts its size.
    observed = [ece((rng.random(360) < p).astype(float), p) for _ in range(300)]
    assert abs(np.mean(observed) - floor) < 0.01
    assert 0.02 < floor < 0.1  # about 0.05 at 360 parcels: the size of the review band's target
    assert ece_floor(simulated(20000, rng)[0]) < floor / 4
    # A miscalibrated model sits well above its floor.
    skewed = np.clip(p * 0.6 + 0.2, 0, 1)
    assert ece(y, skewed) > 2 * ece_floor(skewed)
    assert ece_floor(np.array([])) is None
