"""How each head pools over the feature map (`model.cf_pool`, `model.brand_pool`)."""

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


def test_brand_lse_pools_each_brand_over_locations_and_leaves_counterfeit_alone():
    torch.manual_seed(0)
    net = create_inspector_net("tf_efficientnet_lite0", ["a", "b", "c"], "none", SIZE, brand_pool="lse").eval()
    avg = create_inspector_net("tf_efficientnet_lite0", ["a", "b", "c"], "none", SIZE).eval()
    avg.load_state_dict(net.state_dict(), strict=True)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.no_grad():
        cf, brand = net(x)
        cf_avg, brand_avg = avg(x)
        _, _, features = net.forward_all(x)
        scores = net.brand_head(net.backbone.forward_features(x).flatten(2).transpose(1, 2))  # [N, L, B]
    torch.testing.assert_close(cf, cf_avg)
    torch.testing.assert_close(features, avg.forward_all(x)[2])  # OOD features stay average-pooled
    torch.testing.assert_close(brand, torch.logsumexp(scores, 1) - np.log(scores.shape[1]))
    assert torch.all(brand > brand_avg)


def test_cf_pool_survives_the_package_and_old_packages_load_as_avg(tmp_path):
    lse, _ = _pair()
    save_package(tmp_path / "new", lse, {}, onnx=False)
    net, meta = load_package(tmp_path / "new")
    assert net.spec.cf_pool == "lse"
    x = np.random.default_rng(0).integers(0, 255, (2, SIZE, SIZE, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict_arrays(net, x)[0], predict_arrays(lse, x)[0], rtol=1e-5, atol=1e-5)
    old = dict(meta["net"])
    old.pop("cf_pool")
    old.pop("brand_pool")
    spec = NetSpec.from_dict(json.loads(json.dumps(old)))
    assert (spec.cf_pool, spec.brand_pool) == ("avg", "avg")
    assert build_from_spec(spec).spec.cf_pool == "avg"


def test_lse_exports_to_onnx_with_the_same_scores(tmp_path):
    lse, _ = _pair()
    path = export_onnx(lse, tmp_path / "model.onnx")
    x = np.random.default_rng(1).integers(0, 255, (3, SIZE, SIZE, 3), dtype=np.uint8)
    eager = predict_arrays(lse, x, features=True)
    fast = OnnxNet(path, lse.spec).predict_arrays(x, features=True)
    for a, b in zip(eager, fast, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_unknown_pool_and_tokens_backbone_are_refused_at_creation():
    with pytest.raises(ValueError, match="must be one of"):
        create_inspector_net("tf_efficientnet_lite0", ["a"], "none", SIZE, cf_pool="max")
    with pytest.raises(ValueError, match="must be one of"):
        create_inspector_net("tf_efficientnet_lite0", ["a"], "none", SIZE, brand_pool="gem")
    with pytest.raises(ValueError, match="needs a convolutional feature map"):
        create_inspector_net("vit_tiny_patch16_224", ["a"], "none", 224, brand_pool="lse")
