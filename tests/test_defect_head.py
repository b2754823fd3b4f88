"""The auxiliary defect head: targets from `visible_defects`, masked for unannotated sources,
shipped in the package without changing what serving computes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from infer.model import create_inspector_net, predict_arrays
from infer.package import load_package, save_package
from train.data import PhotoDataset, defect_targets, defect_vocabulary
from train.engine import defect_loss


def photos() -> pd.DataFrame:
    return pd.DataFrame({
        "source": ["0:synthetic"] * 3 + ["1:aj1-af1-photos"],
        "visible_defects": ["label_typo;stitch_wavy", "", "glue_stain", ""],
        "target": [1.0, 0.0, 1.0, 1.0],
        "brand": ["kestra", "kestra", "zephra", "nike"],
    })


def test_targets_are_multi_hot_for_annotated_sources_and_masked_for_the_rest():
    df = photos()
    kinds = defect_vocabulary(df)
    assert kinds == ["glue_stain", "label_typo", "stitch_wavy"]
    t = defect_targets(df, kinds)
    assert t.tolist() == [[0, 1, 1], [0, 0, 0], [1, 0, 0], [-1, -1, -1]]
    # The real photo (no annotations) adds nothing to the loss; the others do.
    logits = torch.zeros(4, 3, requires_grad=True)
    only_real = defect_loss(logits[3:], t[3:])
    assert only_real.item() == 0.0
    defect_loss(logits, t).backward()
    assert logits.grad[3].abs().sum() == 0 and logits.grad[:3].abs().sum() > 0


def test_dataset_items_carry_defect_targets_only_when_asked():
    df = photos()
    images = np.zeros((4, 32, 32, 3), np.uint8)
    assert len(PhotoDataset(images, df, ["kestra", "zephra"])[0]) == 3
    item = PhotoDataset(images, df, ["kestra", "zephra"], defects=defect_vocabulary(df))[0]
    assert len(item) == 4 and item[3].tolist() == [0, 1, 1]


def test_defect_head_round_trips_through_the_package_and_leaves_serving_outputs_alone(tmp_path):
    torch.manual_seed(0)
    kinds = ["glue_stain", "label_typo"]
    net = create_inspector_net("tf_efficientnet_lite0", ["kestra", "zephra"], weights="none",
                               image_size=64, defects=kinds).eval()
    x = torch.randn(2, 3, 64, 64)
    cf, brand, d = net(x, aux=True)
    assert d.shape == (2, 2)
    assert torch.equal(net(x)[0], cf)  # the head does not touch the counterfeit logit
    save_package(tmp_path / "pkg", net, {"pooling": "max"}, onnx=False)
    loaded, _ = load_package(tmp_path / "pkg")
    assert loaded.spec.defects == kinds
    arrays = np.random.default_rng(0).integers(0, 255, (2, 64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(predict_arrays(loaded, arrays)[0], predict_arrays(net, arrays)[0], atol=1e-6)
