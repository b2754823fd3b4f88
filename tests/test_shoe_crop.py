"""The brand's second look from a crop around the shoe (`NetSpec.shoe_crop`, infer/shoe_crop.py):
where the crop is cut, when it is refused, that the ImageNet footwear map finds a real shoe
that is small in its photo, and that the Inspector averages the brand and nothing else."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from infer import Inspector, shoe_crop
from infer.model import create_inspector_net, predict_arrays
from infer.preprocess import letterbox
from infer.spec import softmax

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
BRANDS = SHARED / "sneaker-brands" / "labels.csv"


def _cells(hot: list[tuple[int, int]], value: float = 0.9, rest: float = 0.01) -> np.ndarray:
    cells = np.full((7, 7), rest, np.float32)
    for r, c in hot:
        cells[r, c] = value
    return cells


def test_box_surrounds_the_hot_cells_with_a_margin_and_stays_on_the_photo():
    # A 768x512 photo letterboxes into 224x149 at rows 37..186: a cell is 32 locator px, 109.7 photo px.
    box = shoe_crop.shoe_box((768, 512), _cells([(3, 5)]), min_side=224, locator_size=224)
    assert box is not None
    x0, y0, x1, y1 = box
    assert 0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 512
    cell = 768 / 7
    # The hot cell (columns 160..192, rows 96..128 of the locator) and one cell around it.
    assert x0 <= 4 * cell + 1 and x1 >= 7 * cell - 1 - 1e-6
    assert y0 <= (64 - 37) * 768 / 224 + 1 and y1 >= (160 - 37) * 768 / 224 - 1
    assert (x1 - x0) * (y1 - y0) < 0.8 * 768 * 512


def test_a_finer_map_of_the_same_photo_gives_the_same_box():
    # The 7x7 map at 224 px and a 14x14 map at 448 px whose 2x2 blocks repeat it: one region.
    coarse = _cells([(3, 5)])
    fine = np.kron(coarse, np.ones((2, 2), np.float32))
    a = shoe_crop.shoe_box((768, 512), coarse, 224, locator_size=224)
    b = shoe_crop.shoe_box((768, 512), fine, 224, locator_size=448)
    # The margin is one cell, so the finer map's box is tighter by half a coarse cell a side.
    assert a is not None and b is not None
    assert a[0] <= b[0] < b[2] <= a[2] and a[1] <= b[1] < b[3] <= a[3]
    assert (b[2] - b[0]) < (a[2] - a[0])


def test_small_box_grows_to_the_input_size_instead_of_being_upsampled():
    box = shoe_crop.shoe_box((2000, 2000), _cells([(3, 3)]), min_side=900)
    assert box is not None
    assert box[2] - box[0] >= 899 and box[3] - box[1] >= 899


def test_no_crop_without_a_sure_shoe_when_it_fills_the_photo_or_for_a_thumbnail():
    assert shoe_crop.shoe_box((768, 512), _cells([(3, 5)], value=0.3), 224) is None
    assert shoe_crop.shoe_box((768, 768), np.full((7, 7), 0.95, np.float32), 224) is None
    # 140 px: any crop would be smaller than the 224 px input; the whole photo is kept.
    assert shoe_crop.shoe_box((140, 140), _cells([(3, 3)]), 224) is None


def _net():
    torch.manual_seed(0)
    return create_inspector_net(brands=["a", "b", "c"], weights="none", image_size=64).eval()


def test_inspector_averages_the_brand_with_the_crop_and_keeps_the_counterfeit_score(monkeypatch):
    net = _net()
    rng = np.random.default_rng(0)
    photos = [Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)),
              Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))]
    # The first photo has a shoe in one cell, the second none: only the first is cropped.
    maps = np.stack([_cells([(2, 2)]), _cells([], rest=0.05)])
    monkeypatch.setattr(shoe_crop, "footwear_maps", lambda arrays, batch_size=32: maps[: len(arrays)])
    plain = Inspector({"net": net.spec.to_dict()}, net=net).score_photos(photos)
    net.spec.shoe_crop = True
    both = Inspector({"net": net.spec.to_dict()}, net=net).score_photos(photos)
    np.testing.assert_allclose(both.counterfeit_logit, plain.counterfeit_logit)
    np.testing.assert_allclose(both.brand_probs[1], plain.brand_probs[1])
    box = shoe_crop.shoe_box(photos[0].size, maps[0], 64)
    crop = letterbox(photos[0].crop(box), 64)[None]
    expected = (plain.brand_probs[0] + softmax(predict_arrays(net, crop)[1])[0]) / 2
    np.testing.assert_allclose(both.brand_probs[0], expected, rtol=1e-5)
    assert not np.allclose(both.brand_probs[0], plain.brand_probs[0])


@pytest.mark.skipif(not BRANDS.is_file(), reason="../shared/data is absent")
def test_footwear_map_finds_a_real_shoe_that_is_small_in_the_photo():
    """Real product shots, cut from their backdrop and pasted at a third of the width onto
    gravel: where a crop is made it holds the shoe and not the whole scene. (A shoe pasted with
    its white backdrop reads as a web page or an envelope to ImageNet, and is not found.)"""
    sys.path.insert(0, str(REPO / "experiments" / "real-photos"))
    from cutout import backdrop_mask

    rows = pd.read_csv(BRANDS)
    rows = rows[rows["kind"] == "product-shot"].head(6)
    scene = np.asarray(Image.fromarray(np.tile(skdata.gravel(), (2, 3))).convert("RGB").resize((960, 720)))
    found = 0
    for k, rel in enumerate(rows["path"]):
        shoe = Image.open(BRANDS.parent / rel).convert("RGB")
        shoe.thumbnail((300, 300))
        cut = np.array(shoe)
        mask = backdrop_mask(cut)
        assert mask is not None, rel
        photo = scene.copy()
        x, y = 100 + 80 * k, 330
        region = photo[y : y + cut.shape[0], x : x + cut.shape[1]]
        region[mask > 0.5] = cut[mask > 0.5]
        cells = shoe_crop.footwear_maps(letterbox(Image.fromarray(photo), shoe_crop.LOCATOR_SIZE)[None])[0]
        box = shoe_crop.shoe_box((960, 720), cells, 224)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        centre = (x + cut.shape[1] / 2, y + cut.shape[0] / 2)
        assert x0 <= centre[0] <= x1 and y0 <= centre[1] <= y1, (rel, box, centre)
        assert (x1 - x0) * (y1 - y0) < shoe_crop.WHOLE_AREA * 960 * 720
        found += 1
    assert found >= 2, f"a crop around the shoe in only {found} of 6 scenes"


def test_training_evaluation_reads_the_brand_as_the_inspector_serves_it(monkeypatch, tmp_path):
    from train.shoe_crop_eval import brand_logits_with_shoe_crop

    net = _net()
    net.spec.shoe_crop = True
    rng = np.random.default_rng(1)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(paths[-1])
    maps = np.stack([_cells([(2, 2)]), _cells([], rest=0.05), _cells([(4, 1), (4, 2)])])
    monkeypatch.setattr(shoe_crop, "footwear_maps", lambda arrays, batch_size=32: maps[: len(arrays)])
    served = Inspector({"net": net.spec.to_dict(), "temperature": {"brand": 0.7}}, net=net).score_photos(paths)
    whole = np.stack([letterbox(Image.open(p).convert("RGB"), 64) for p in paths])
    df = pd.DataFrame({"path": paths, "readable": True})
    logits, cropped = brand_logits_with_shoe_crop(net, df, predict_arrays(net, whole)[1], brand_temp=0.7)
    assert cropped == 2
    np.testing.assert_allclose(softmax(logits, 0.7), served.brand_probs, rtol=1e-5)


def test_config_ships_the_shoe_crop_switch():
    from train.config import load_config

    repo = Path(__file__).resolve().parents[1]
    cfg = load_config(repo / "configs" / "smoke.yaml", ["model.shoe_crop=true"])
    assert cfg.model.shoe_crop is True
    assert load_config(repo / "configs" / "smoke.yaml").model.shoe_crop is False
