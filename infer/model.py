"""The network: a timm backbone with a counterfeit head (one logit) and a brand head.

`NetSpec` and the array helpers live in the torch-free `infer.spec` and are re-exported here,
so training and tests import the network's whole API from one place.
"""

from __future__ import annotations

import math

import numpy as np
import timm
import torch
from torch import nn

from infer.preprocess import normalize
from infer.spec import (  # noqa: F401
    POOLS,
    TTA_MODES,
    NetSpec,
    as_views,
    check_pools,
    expected_views,
    mean_over_views,
    softmax,
    view_batches,
)
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
        self.defect_head = nn.Linear(features, len(spec.defects)) if spec.defects else None
        self.read_head = nn.Linear(features, len(spec.printed)) if spec.printed else None
        check_pools(spec.cf_pool, spec.brand_pool)

    def forward(self, images: torch.Tensor, aux: bool = False):
        """(counterfeit logit [N], brand logits [N, B]); a tuple keeps export to ONNX simple.
        `aux=True` (training) adds the auxiliary logits [N, K + V]: the defect head's K, then
        the reading head's V; it goes through forward() so that DistributedDataParallel sees
        the call."""
        if not aux:
            cf, brand, _ = self.forward_all(images)
            return cf, brand
        heads = [h for h in (self.defect_head, self.read_head) if h is not None]
        if not heads:
            raise ValueError("this network has no auxiliary head (NetSpec.defects and "
                             "NetSpec.printed are empty)")
        cf, brand, _, dropped = self._outputs(images)
        return cf, brand, torch.cat([h(dropped) for h in heads], dim=1)

    def forward_all(self, images: torch.Tensor):
        """Logits plus the backbone's pooled features [N, D] (for out-of-distribution scores)."""
        cf, brand, features, _ = self._outputs(images)
        return cf, brand, features

    def _outputs(self, images: torch.Tensor):
        if self.spec.cf_pool == "avg" and self.spec.brand_pool == "avg":
            features = self.backbone(images)
            dropped = self.dropout(features)
            return self.counterfeit_head(dropped).squeeze(-1), self.brand_head(dropped), features, dropped
        fmap = self.backbone.forward_features(images)
        features = self.backbone.forward_head(fmap, pre_logits=True)  # what OOD scores read
        dropped = self.dropout(features)
        cells = self.dropout(fmap.flatten(2).transpose(1, 2))  # [N, locations, D]

        def pooled(head: nn.Linear, pool: str) -> torch.Tensor:
            if pool == "avg":
                return head(dropped)
            # The same linear head at every location, then a soft maximum over the locations.
            scores = head(cells)
            return torch.logsumexp(scores, dim=1) - math.log(scores.shape[1])

        cf = pooled(self.counterfeit_head, self.spec.cf_pool).squeeze(-1)
        return cf, pooled(self.brand_head, self.spec.brand_pool), features, dropped


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
    name: str = "tf_efficientnet_lite0",
    brands: list[str] | None = None,
    weights: str | None = "imagenet",
    image_size: int = 224,
    dropout: float = 0.2,
    tta: str = "none",
    defects: list[str] | None = None,
    cf_pool: str = "avg",
    brand_pool: str = "avg",
    printed: list[str] | None = None,
    detail_size: int = 0,
) -> InspectorNet:
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
    check_pools(cf_pool, brand_pool)
    backbone, cfg = create_backbone(name, weights)
    if "lse" in (cf_pool, brand_pool):
        # Fail before any training step, not at the first batch: the pooling needs a 2-D map.
        with torch.no_grad():
            shape = tuple(backbone.forward_features(torch.zeros(1, 3, image_size, image_size)).shape)
        if len(shape) != 4:
            raise ValueError(f"pooling 'lse' needs a convolutional feature map; {name} "
                             f"gives shape {shape}")
    spec = NetSpec(
        backbone=name,
        brands=list(brands or []),
        image_size=image_size,
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        dropout=dropout,
        tta=tta,
        defects=list(defects or []),
        printed=list(printed or []),
        cf_pool=cf_pool,
        brand_pool=brand_pool,
        detail_size=detail_size,
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
    views, batches = view_batches(spec, arrays, batch_size)
    cf_out, brand_out, feat_out = [], [], []
    for photos in tqdm(batches, desc=progress, unit="batch", leave=False, disable=progress is None):
        chunk = as_views(spec, arrays[photos])
        x = normalize(torch.from_numpy(np.ascontiguousarray(chunk)).to(device), spec.mean, spec.std)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        cf, brand, feats = net.forward_all(x)
        if spec.tta == "hflip":
            cf_m, brand_m, feats_m = net.forward_all(x.flip(-1))
            cf, brand, feats = (cf + cf_m) / 2, (brand + brand_m) / 2, (feats + feats_m) / 2
        cf, brand, feats = mean_over_views((cf, brand, feats), views)
        cf_out.append(cf.double().cpu().numpy())
        brand_out.append(brand.double().cpu().numpy())
        if features:
            feat_out.append(feats.float().cpu().numpy())
    if not cf_out:
        empty = (np.zeros(0), np.zeros((0, max(1, len(net.spec.brands)))))
        return (*empty, np.zeros((0, net.backbone.num_features), np.float32)) if features else empty
    out = (np.concatenate(cf_out), np.concatenate(brand_out))
    return (*out, np.concatenate(feat_out)) if features else out
