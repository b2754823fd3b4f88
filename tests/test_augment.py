"""Training augmentation: what each level does to a photo, mirrored photos only when asked, and
seeded draws that come out the same wherever they are made."""

import numpy as np
import pandas as pd
import pytest

from train.augment import build_augment
from train.data import PhotoDataset


def test_none_without_flips_leaves_photos_alone_and_flips_mirror_only():
    assert build_augment("none") is None
    photo = np.zeros((32, 32, 3), np.uint8)
    photo[:, :8] = 255  # a white band on the left
    flip = build_augment("none", hflip=True)
    seen = {bool(flip(image=photo)["image"][:, -8:].all()) for _ in range(40)}
    assert seen == {True, False}  # about half mirrored, none changed otherwise
    for _ in range(20):
        out = flip(image=photo)["image"]
        assert np.array_equal(out, photo) or np.array_equal(out, photo[:, ::-1])


@pytest.mark.parametrize("level", ["light", "default", "strong"])
def test_levels_change_photos_but_keep_their_size(level):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    aug = build_augment(level)
    outs = [aug(image=photo)["image"] for _ in range(30)]
    assert all(o.shape == photo.shape and o.dtype == np.uint8 for o in outs)
    assert sum(not np.array_equal(o, photo) for o in outs) > 20


def test_an_unknown_level_is_refused():
    with pytest.raises(ValueError, match="augment level"):
        build_augment("extreme")


def test_a_seeded_draw_is_the_same_in_any_order():
    rng = np.random.default_rng(1)
    photos = rng.integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    df = pd.DataFrame({"target": [1.0, 0.0, np.nan], "brand": ["a", "b", "a"]})
    data = PhotoDataset(photos, df, ["a", "b"], build_augment("default", hflip=True))
    first = [data[(i, 7 + i)][0].numpy() for i in range(3)]
    again = [data[(i, 7 + i)][0].numpy() for i in reversed(range(3))][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(data[(0, 7)][0].numpy(), data[(0, 8)][0].numpy())
    _, target, brand = data[2]
    assert float(target) == -1 and int(brand) == 0  # unknown label: left out of that loss


def test_synthetic_rows_are_never_mirrored_when_real_ones_are():
    photo = np.zeros((32, 32, 3), np.uint8)
    photo[:, :8] = 255
    photos = np.stack([photo, photo])
    df = pd.DataFrame({"target": [1.0, 1.0], "brand": ["a", "a"], "synthetic": [False, True]})
    data = PhotoDataset(photos, df, ["a"], build_augment("none", hflip=True), unmirrored=build_augment("none"))
    real = [bool(data[(0, seed)][0].numpy()[:, -8:].all()) for seed in range(30)]
    synthetic = [np.array_equal(data[(1, seed)][0].numpy(), photo) for seed in range(30)]
    assert any(real) and not all(real)
    assert all(synthetic)
