"""The counterfeit head's pooling over the feature map (`model.cf_pool`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from infer.model import NetSpec, build_from_spec, create_inspector_net, predict_arrays
from infer.onnx_backend import OnnxNet, export_onnx
from infer.package import load_package, save_package

SIZE = 64


def _pair():
    torch.manual_seed(0)
    lse = create_inspector_net("tf_efficientnet_lite0", ["a", "b"], "none", SIZE, cf_pool="lse").eval()
    avg = create_inspector_net("tf_efficientnet_lite0", ["a", "b"], "none", SIZE).eval()
    avg.load_state_dict(lse.state_dict(), strict=True)  # same parameters: only the pooling differs
    return lse, avg


def test_lse_is_a_soft_maximum_of_the_scores_the_avg_head_averages():
    lse, avg = _pair()
    x = torch.randn(3, 3, SIZE, SIZE)
    with torch.no_grad():
        cf_lse, brand_lse = lse(x)
        cf_avg, brand_avg = avg(x)
        fmap = lse.backbone.forward_features(x).flatten(2).transpose(1, 2)
        scores = lse.counterfeit_head(fmap).squeeze(-1)
    torch.testing.assert_close(brand_lse, brand_avg)  # the brand head keeps average pooling
    # A linear head commutes with the mean, so "avg" is the mean of the per-location scores ...
    torch.testing.assert_close(cf_avg, scores.mean(1), rtol=1e-4, atol=1e-4)
    # ... and "lse" lies between that mean and the maximum, strictly above the mean unless flat.
    assert torch.all(cf_lse > cf_avg) and torch.all(cf_lse <= scores.max(1).values + 1e-5)


def test_cf_pool_survives_the_package_and_old_packages_load_as_avg(tmp_path):
    lse, _ = _pair()
    save_package(tmp_path / "new", lse, {}, onnx=False)
    net, meta = load_package(tmp_path / "new")
    assert net.spec.cf_pool == "lse"
    x = np.random.default_rng(0).integers(0, 255, (2, SIZE, SIZE, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict_arrays(net, x)[0], predict_arrays(lse, x)[0], rtol=1e-5, atol=1e-5)
    old = dict(meta["net"])
    old.pop("cf_pool")
    assert NetSpec.from_dict(json.loads(json.dumps(old))).cf_pool == "avg"
    assert build_from_spec(NetSpec.from_dict(old)).spec.cf_pool == "avg"


def test_lse_exports_to_onnx_with_the_same_scores(tmp_path):
    lse, _ = _pair()
    path = export_onnx(lse, tmp_path / "model.onnx")
    x = np.random.default_rng(1).integers(0, 255, (3, SIZE, SIZE, 3), dtype=np.uint8)
    eager = predict_arrays(lse, x, features=True)
    fast = OnnxNet(path, lse.spec).predict_arrays(x, features=True)
    for a, b in zip(eager, fast, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_unknown_pool_and_tokens_backbone_are_refused_at_creation():
    with pytest.raises(ValueError, match="cf_pool must be one of"):
        create_inspector_net("tf_efficientnet_lite0", ["a"], "none", SIZE, cf_pool="max")
    with pytest.raises(ValueError, match="needs a convolutional feature map"):
        create_inspector_net("vit_tiny_patch16_224", ["a"], "none", 224, cf_pool="lse")
