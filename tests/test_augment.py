"""Training augmentation: the zoom-out option shrinks photos inside the frame, and only when asked."""

import numpy as np
import pandas as pd
import pytest

from infer.preprocess import PAD_VALUE
from train.augment import build_augment
from train.data import PhotoDataset


def pad_share(image: np.ndarray) -> float:
    return float((image == PAD_VALUE).all(axis=-1).mean())


def test_zoom_out_shrinks_about_half_the_photos_within_its_range():
    white = np.full((96, 96, 3), 255, np.uint8)
    aug = build_augment("none", zoom_out=0.5)
    shares = np.array([pad_share(aug(image=white)["image"]) for _ in range(200)])
    shrunk = shares > 0.02
    assert 0.3 < shrunk.mean() < 0.7  # p = 0.5
    # At scale s the photo covers s^2 of the frame: never less than 0.25 at zoom_out = 0.5.
    assert shares.max() <= 0.75 + 0.03
    assert shares[shrunk].mean() > 0.2


def test_without_zoom_out_nothing_is_shrunk():
    white = np.full((96, 96, 3), 255, np.uint8)
    assert build_augment("none") is None
    flip_only = build_augment("none", hflip=True)
    assert all(pad_share(flip_only(image=white)["image"]) == 0 for _ in range(20))


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_zoom_out_outside_its_range_is_refused(bad):
    with pytest.raises(ValueError, match="zoom_out"):
        build_augment("light", zoom_out=bad)


def test_zoom_out_reaches_only_photos_without_a_counterfeit_label():
    white = np.full((4, 64, 64, 3), 255, np.uint8)
    df = pd.DataFrame({"target": [1.0, 0.0, np.nan, np.nan], "brand": ["a", "b", "a", "b"]})
    plain = build_augment("none")  # None: photos with a counterfeit label pass unchanged
    zoom = build_augment("none", zoom_out=0.5)
    zoom.transforms[0].p = 1.0  # every brand-only draw shrunk, to see where it lands
    data = PhotoDataset(white, df, ["a", "b"], plain, brand_only_augment=zoom)
    # Seeded draws, as the training sampler makes them: one unseeded draw could land at a scale
    # near 1 with no shift, and show no padding although it went through the zoom.
    shares = [[pad_share(data[(i, seed)][0].numpy()) for seed in range(5)] for i in range(4)]
    assert max(shares[0]) == max(shares[1]) == 0  # counterfeit-labelled photos keep their full frame
    assert max(shares[2]) > 0 and max(shares[3]) > 0
