"""Out-of-distribution scoring on backbone features."""

from __future__ import annotations

import numpy as np
import pytest

from infer.ood import FeatureDensity


def cloud(n, rng, d=64, rank=8):
    basis = rng.normal(size=(rank, d))
    return rng.normal(size=(n, rank)) @ basis + 0.05 * rng.normal(size=(n, d))


def test_far_and_off_subspace_points_score_above_the_threshold():
    rng = np.random.default_rng(0)
    train = cloud(800, rng)
    density = FeatureDensity.fit(train[:600], k=16)
    density.set_threshold(train[600:], quantile=0.99)
    inside = density.score(train[600:])
    assert (inside <= density.threshold).mean() == pytest.approx(0.99, abs=0.011)
    off = train[600:] + 3.0 * rng.normal(size=train[600:].shape)  # leaves the training subspace
    far = train[600:] * 6.0
    assert (density.score(off) > density.threshold).mean() > 0.95
    assert (density.score(far) > density.threshold).mean() > 0.95


def test_round_trip_through_safetensors(tmp_path):
    rng = np.random.default_rng(1)
    x = cloud(100, rng)
    density = FeatureDensity.fit(x, k=8)
    density.set_threshold(x)
    density.save(tmp_path)
    back = FeatureDensity.load(tmp_path)
    np.testing.assert_allclose(back.score(x), density.score(x), rtol=1e-4)
    assert back.threshold == pytest.approx(density.threshold)
    assert FeatureDensity.load(tmp_path / "missing") is None
    with pytest.raises(ValueError):
        FeatureDensity.fit(x[:2])
