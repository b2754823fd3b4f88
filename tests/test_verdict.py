"""`infer.verdict.decide` and `Thresholds`; `infer.pooling.pool_logits`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from infer.pooling import POOLINGS, pool_brand, pool_logits, sigmoid
from infer.verdict import VERDICTS, ParcelVerdict, PhotoResult, Thresholds, decide

T = Thresholds(genuine_below=0.2, counterfeit_above=0.8, min_brand_probability=0.5)

# --- decide ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "p, verdict",
    [
        (0.0, "genuine"),
        (0.1999, "genuine"),
        (0.2, "review"),  # genuine_below is exclusive
        (0.5, "review"),
        (0.7999, "review"),
        (0.8, "counterfeit"),  # counterfeit_above is inclusive
        (1.0, "counterfeit"),
    ],
)
def test_decide_bands(p, verdict):
    got, reasons = decide(p, 0.9, T)
    assert got == verdict
    assert got in VERDICTS
    assert reasons == (["counterfeit_probability_in_band"] if verdict == "review" else [])


def test_uncertain_brand_sends_clear_case_to_review():
    for p in (0.05, 0.95):
        verdict, reasons = decide(p, 0.3, T)
        assert verdict == "review"
        assert reasons == ["brand_uncertain"]


def test_both_reasons_listed():
    verdict, reasons = decide(0.5, 0.1, T)
    assert verdict == "review"
    assert reasons == ["counterfeit_probability_in_band", "brand_uncertain"]


def test_brand_probability_at_threshold_is_enough():
    assert decide(0.9, 0.5, T) == ("counterfeit", [])
    assert decide(0.9, 0.4999, T)[0] == "review"


def test_min_brand_probability_zero_never_triggers():
    assert decide(0.05, 0.0, Thresholds(min_brand_probability=0.0)) == ("genuine", [])


def test_equal_thresholds_leave_no_review_band():
    t = Thresholds(genuine_below=0.5, counterfeit_above=0.5, min_brand_probability=0.0)
    assert decide(0.4999, 1.0, t)[0] == "genuine"
    assert decide(0.5, 1.0, t)[0] == "counterfeit"


def test_reasons_are_fresh_lists():
    _, first = decide(0.05, 0.9, T)
    first.append("mutated")
    assert decide(0.05, 0.9, T) == ("genuine", [])


# --- Thresholds ------------------------------------------------------------------------------


def test_thresholds_defaults_valid():
    t = Thresholds()
    assert 0 <= t.genuine_below <= t.counterfeit_above <= 1


@pytest.mark.parametrize(
    "genuine_below, counterfeit_above",
    [(0.9, 0.1), (-0.1, 0.5), (0.2, 1.5), (0.6, 0.59)],
)
def test_thresholds_invalid(genuine_below, counterfeit_above):
    with pytest.raises(ValueError, match="genuine_below"):
        Thresholds(genuine_below=genuine_below, counterfeit_above=counterfeit_above)


@pytest.mark.parametrize("genuine_below, counterfeit_above", [(0.0, 1.0), (0.0, 0.0), (1.0, 1.0)])
def test_thresholds_edges_valid(genuine_below, counterfeit_above):
    t = Thresholds(genuine_below=genuine_below, counterfeit_above=counterfeit_above)
    assert (t.genuine_below, t.counterfeit_above) == (genuine_below, counterfeit_above)


def test_parcel_verdict_to_dict():
    photos = [
        PhotoResult("a.jpg", 0.9, "nike", 0.8),
        PhotoResult("b.jpg", error="b.jpg: not an image"),
    ]
    out = ParcelVerdict("P1", "counterfeit", 0.9, "nike", 0.8, photos, {"name": "m"}, []).to_dict()
    assert out["verdict"] == "counterfeit" and out["parcel_id"] == "P1"
    assert out["photos"][0] == {
        "path": "a.jpg",
        "counterfeit_probability": 0.9,
        "brand": "nike",
        "brand_probability": 0.8,
    }
    assert out["photos"][1] == {"path": "b.jpg", "error": "b.jpg: not an image"}


# --- pooling ---------------------------------------------------------------------------------


def test_pooling_values_on_simple_input():
    logits = [-2.0, 0.0, 1.0, 3.0]
    assert pool_logits(logits, "max") == 3.0
    assert pool_logits(logits, "top2_mean") == 2.0
    assert pool_logits(logits, "logit_mean") == pytest.approx(0.5)
    lme = math.log(np.mean(np.exp(logits)))
    assert pool_logits(logits, "log_mean_exp") == pytest.approx(lme, abs=1e-12)
    p = np.mean([sigmoid(x) for x in logits])
    assert pool_logits(logits, "prob_mean") == pytest.approx(math.log(p / (1 - p)), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_pooling_order(seed):
    logits = np.random.default_rng(seed).normal(0, 3, size=6)
    mx = pool_logits(logits, "max")
    lme = pool_logits(logits, "log_mean_exp")
    mean = pool_logits(logits, "logit_mean")
    top2 = pool_logits(logits, "top2_mean")
    assert mx >= lme >= mean
    assert mx >= top2 >= mean
    assert logits.min() <= pool_logits(logits, "prob_mean") <= mx


@pytest.mark.parametrize("method", sorted(POOLINGS))
@pytest.mark.parametrize("logit", [-4.0, -0.3, 0.0, 2.5, 6.0])
def test_single_photo_pools_to_itself(method, logit):
    assert pool_logits([logit], method) == pytest.approx(logit, abs=1e-9)


@pytest.mark.parametrize("method", sorted(POOLINGS))
def test_identical_photos_pool_to_that_logit(method):
    assert pool_logits(np.full(4, 1.25), method) == pytest.approx(1.25, abs=1e-9)


def test_log_mean_exp_is_stable_for_large_logits():
    assert pool_logits([1000.0, 1000.0], "log_mean_exp") == pytest.approx(1000.0)
    assert math.isfinite(pool_logits([800.0, -800.0], "log_mean_exp"))


def test_one_suspicious_photo_dominates_soft_max_not_mean():
    logits = [-3.0, -3.0, -3.0, 4.0]
    assert pool_logits(logits, "logit_mean") < 0 < pool_logits(logits, "log_mean_exp")


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown pooling 'median'"):
        pool_logits([0.0], "median")


def test_empty_parcel_raises():
    with pytest.raises(ValueError, match="without photos"):
        pool_logits([], "max")


def test_pool_brand_is_mean_distribution():
    probs = np.array([[0.8, 0.2], [0.4, 0.6]])
    np.testing.assert_allclose(pool_brand(probs), [0.6, 0.4])


def test_sigmoid():
    assert sigmoid(0.0) == 0.5
    assert sigmoid(2.0) == pytest.approx(1 / (1 + math.exp(-2.0)))
