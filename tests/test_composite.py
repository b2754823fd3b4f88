"""Cut-and-paste of brand photos: the cut finds a shoe on a plain backdrop, refuses photos
without one, and the paste is repeatable and reaches only brand-only photos."""

import csv
import io
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from infer.preprocess import PAD_VALUE, letterbox
from train.augment import build_augment
from train.composite import PasteOnSurface, backdrop_mask
from train.config import ConfigError, load_config
from train.data import PhotoDataset

SHOE = (30, 60, 200)
BRANDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sneaker-brands"


def studio_shot(width: int = 300, height: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """A blue 'shoe' on a studio backdrop that darkens towards the floor, JPEG-compressed and
    letterboxed as training sees it; with the shoe's true mask."""
    backdrop = np.linspace(245, 200, height)[:, None, None] * np.ones((1, width, 3))
    img = backdrop.astype(np.uint8)
    truth = np.zeros((height, width), np.uint8)
    cv2.ellipse(truth, (width // 2, height // 2 + 20), (95, 40), 8, 0, 360, 1, -1)
    img[truth > 0] = SHOE
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=85)
    photo = letterbox(Image.open(buf).convert("RGB"), 224)
    truth_box = letterbox(Image.fromarray(truth * 255).convert("RGB"), 224)[..., 0] > 191  # pad is 128
    return photo, truth_box


def test_the_cut_finds_a_shoe_on_a_graded_backdrop():
    photo, truth = studio_shot()
    mask = backdrop_mask(photo)
    assert mask is not None
    cut = mask > 0.5
    # All of the shoe, with at most a thin halo of backdrop (the fill stops a pixel or two short
    # of a JPEG-ringed outline; about 11% of the cut on this small ellipse).
    assert (cut & truth).sum() / truth.sum() > 0.97
    assert (cut & truth).sum() / cut.sum() > 0.85
    # The letterbox bands are neither shoe nor backdrop; they must not be cut as shoe.
    assert not cut[(photo == PAD_VALUE).all(axis=-1)].any()


def test_a_photo_without_a_plain_backdrop_is_not_cut():
    rng = np.random.default_rng(0)
    street = cv2.resize(rng.integers(0, 256, (28, 28, 3), dtype=np.uint8), (224, 224),
                        interpolation=cv2.INTER_NEAREST)
    assert backdrop_mask(street) is None


def test_the_paste_moves_the_shoe_onto_a_full_frame_surface_and_repeats_under_a_seed():
    photo, truth = studio_shot()
    paste = PasteOnSurface(p=1.0)
    outs = []
    for seed in (0, 0, 1):
        paste.set_random_seed(seed)
        outs.append(paste(image=photo)["image"])
    assert np.array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])
    for out in outs:
        assert out.shape == photo.shape and out.dtype == np.uint8
        # The letterbox bands are gone: the surface fills the frame.
        assert (out == PAD_VALUE).all(axis=-1).mean() < 0.01
        # The shoe's colour survives the paste, at 35-95% of the frame's side.
        blue = (np.abs(out.astype(int) - SHOE).max(axis=-1) < 40).sum()
        share = blue / truth.sum()
        assert 0.35**2 * 0.5 < share < 0.95**2 * 1.6


def test_paste_outside_its_range_is_refused():
    with pytest.raises(ValueError, match="paste"):
        build_augment("light", paste=1.5)
    with pytest.raises(ConfigError, match="train.paste"):
        load_config("configs/smoke.yaml", ["train.paste=-0.2"])


def test_the_paste_reaches_only_photos_without_a_counterfeit_label():
    photo, _ = studio_shot()
    photos = np.stack([photo] * 4)
    df = pd.DataFrame({"target": [1.0, 0.0, np.nan, np.nan], "brand": ["a", "b", "a", "b"]})
    pasted = build_augment("none", paste=1.0)
    data = PhotoDataset(photos, df, ["a", "b"], None, brand_only_augment=pasted)
    same = [all(np.array_equal(data[(i, s)][0].numpy(), photo) for s in range(3)) for i in range(4)]
    assert same == [True, True, False, False]


@pytest.mark.skipif(not BRANDS.exists(), reason="needs ../shared/data/sneaker-brands")
def test_most_real_product_shots_are_cut():
    with open(BRANDS / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["kind"] == "product-shot"]
    sample = rows[:: max(1, len(rows) // 40)]
    cut = [backdrop_mask(letterbox(Image.open(BRANDS / r["path"]).convert("RGB"), 224)) is not None
           for r in sample]
    assert np.mean(cut) >= 0.8
