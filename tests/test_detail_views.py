"""Detail views (`data.detail_size`): photos letterboxed at a multiple of the input size, scored
as the mean over the whole photo and a grid of full-resolution crops, the same way in training's
evaluation, the eager network, the ONNX runner and the Inspector."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from infer import Inspector
from infer.model import create_inspector_net, predict_arrays
from infer.onnx_backend import OnnxNet, export_onnx
from infer.package import load_package, save_package
from infer.preprocess import crop_offsets, detail_views, downscale, letterbox
from train.augment import build_augment
from train.config import ConfigError, load_config

SIZE, DETAIL = 32, 64
REPO_SMOKE = Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml"


def _photos(n: int = 3, size: int = DETAIL, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _net(detail: int = DETAIL):
    torch.manual_seed(0)
    return create_inspector_net("tf_efficientnet_lite0", ["a", "b"], "none", SIZE, detail_size=detail).eval()


def test_downscale_undoes_a_block_upsampling_and_rejects_other_sizes():
    small = _photos(2, SIZE)
    big = small.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_array_equal(downscale(big, SIZE), small)
    assert downscale(small, SIZE) is small
    # Any photo: each pixel the mean of its block, rounded half up, for any factor and batch shape.
    for k in (2, 3):
        photos = _photos(4, SIZE * k).reshape(2, 2, SIZE * k, SIZE * k, 3)
        blocks = photos.reshape(2, 2, SIZE, k, SIZE, k, 3).astype(np.float64)
        np.testing.assert_array_equal(downscale(photos, SIZE), np.floor(blocks.mean(axis=(3, 5)) + 0.5))
    with pytest.raises(ValueError, match="70 px"):
        downscale(_photos(1, 70), SIZE)


def test_detail_views_are_the_whole_photo_then_a_grid_of_crops():
    photos = _photos(2)
    views = detail_views(photos, SIZE)
    assert crop_offsets(DETAIL, SIZE) == [0, 16, 32]
    assert views.shape == (2, 10, SIZE, SIZE, 3)
    np.testing.assert_array_equal(views[:, 0], downscale(photos, SIZE))
    np.testing.assert_array_equal(views[:, 1], photos[:, :SIZE, :SIZE])  # top left
    np.testing.assert_array_equal(views[:, 2], photos[:, :SIZE, 16 : 16 + SIZE])
    np.testing.assert_array_equal(views[:, 9], photos[:, -SIZE:, -SIZE:])  # bottom right


def test_a_photo_is_scored_as_the_mean_of_its_views():
    net = _net()
    photos = _photos(3)
    cf, brand, feats = predict_arrays(net, photos, batch_size=20, features=True)
    plain = copy.deepcopy(net)
    plain.spec.detail_size = 0
    views = detail_views(photos, SIZE)
    each = [predict_arrays(plain, views[i], features=True) for i in range(len(photos))]
    np.testing.assert_allclose(cf, [e[0].mean() for e in each], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(brand, [e[1].mean(0) for e in each], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(feats, [e[2].mean(0) for e in each], rtol=1e-4, atol=1e-4)
    # Batches split between photos, never between a photo's views: any batch size agrees.
    np.testing.assert_allclose(predict_arrays(net, photos, batch_size=1)[0], cf, rtol=1e-5, atol=1e-5)
    # The whole photo alone is not what the model answers with: the crops count.
    assert not np.allclose(cf, [e[0][0] for e in each], atol=1e-4)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One network and its ONNX graph for the module: the export is most of these tests' time."""
    net = _net()
    return net, export_onnx(net, tmp_path_factory.mktemp("onnx") / "m.onnx")


def test_photos_at_the_wrong_size_are_refused_by_both_backends(exported):
    net, path = exported
    with pytest.raises(ValueError, match="letterboxed at 64 px"):
        predict_arrays(net, _photos(1, SIZE))
    with pytest.raises(ValueError, match="detail_size"):
        OnnxNet(path, net.spec).predict_arrays(_photos(1, SIZE))


def test_onnx_runner_applies_the_detail_views_like_the_eager_path(exported):
    net = copy.deepcopy(exported[0])
    net.spec.tta = "hflip"  # both test-time augmentations at once: 20 images per photo
    photos = _photos(5)
    runner = OnnxNet(exported[1], net.spec)
    eager = predict_arrays(net, photos, batch_size=40, features=True)
    fast = runner.predict_arrays(photos, batch_size=40, features=True)
    for e, f in zip(eager, fast, strict=True):
        np.testing.assert_allclose(f, e, rtol=1e-3, atol=1e-4)


def test_the_package_keeps_detail_size_and_the_inspector_letterboxes_at_it(tmp_path):
    save_package(tmp_path / "pkg", _net(), {}, onnx=False)
    assert json.loads((tmp_path / "pkg" / "inspector.json").read_text())["net"]["detail_size"] == DETAIL
    loaded, _ = load_package(tmp_path / "pkg")
    assert loaded.spec.detail_size == DETAIL and loaded.spec.input_size == DETAIL
    inspector = Inspector.load(tmp_path / "pkg")
    photo = Image.fromarray(_photos(1, 200)[0][:, :150])
    arr = inspector._decode(photo, "p.png")
    assert arr.shape == (DETAIL, DETAIL, 3)
    np.testing.assert_array_equal(arr, letterbox(photo, DETAIL))
    verdict = inspector.inspect([photo, photo], parcel_id="p").to_dict()
    assert 0.0 <= verdict["counterfeit_probability"] <= 1.0
    assert [p.get("error") for p in verdict["photos"]] == [None, None]


@pytest.mark.parametrize("crop_p", [0.0, 1.0])
def test_training_sees_the_whole_photo_as_served_or_a_full_detail_crop(crop_p):
    photos = _photos(1)
    aug = build_augment("none", detail=(SIZE, crop_p))
    out = [aug(image=photos[0])["image"] for _ in range(6)]
    assert all(o.shape == (SIZE, SIZE, 3) for o in out)
    if crop_p == 0.0:
        assert all(np.array_equal(o, downscale(photos, SIZE)[0]) for o in out)
    else:
        # Every crop is a window of the full-resolution photo, not of the downscaled one.
        windows = np.lib.stride_tricks.sliding_window_view(photos[0], (SIZE, SIZE, 3))[..., 0, :, :, :]
        flat = windows.reshape(-1, SIZE, SIZE, 3)
        assert all(any(np.array_equal(o, w) for w in flat) for o in out)


def test_detail_size_must_be_a_multiple_of_the_input_size_at_least_twice_it():
    for bad in (64, 96, 100):  # smoke's image_size is 64: the same size, 1.5x, not a multiple
        with pytest.raises(ConfigError, match="detail_size"):
            load_config(REPO_SMOKE, [f"data.detail_size={bad}"])
    cfg = load_config(REPO_SMOKE, ["data.detail_size=128"])
    assert cfg.data.detail_size == 128
    with pytest.raises(ConfigError, match="detail_crop_p"):
        load_config(REPO_SMOKE, ["train.detail_crop_p=1.5"])


@pytest.mark.slow
def test_a_smoke_run_with_detail_views_trains_packages_and_serves(tmp_path):
    """The whole path with `data.detail_size`: decode at 2x, train on whole-or-crop, score and
    fit the OOD density over the views, package, and judge photos through `python -m infer`."""
    from tests.conftest import run_module

    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    proc = run_module(["train", "--config", str(REPO_SMOKE), "data.detail_size=128",
                       f"output_dir={tmp_path / 'run'}", f"data.synthetic.out_dir={tmp_path / 'syn'}",
                       "tracking.register_as="], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert {"photo_auroc_whole", "parcel_auroc_whole", "brand_accuracy_whole"} <= set(result["test"])
    assert json.loads((tmp_path / "run" / "model" / "inspector.json").read_text())["net"]["detail_size"] == 128
    photos = sorted((tmp_path / "syn" / "images").rglob("*.jpg"))[:3]
    proc = run_module(["infer", *map(str, photos), "--model", str(tmp_path / "run" / "model"), "--json"],
                      cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    verdict = json.loads(proc.stdout)
    assert len(verdict["photos"]) == 3 and all("error" not in p for p in verdict["photos"])
