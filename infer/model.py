"""The network: a timm backbone with a counterfeit head (one logit) and a brand head."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import timm
import torch
from torch import nn

from infer.preprocess import crop_offsets, detail_views, normalize
from infer.weights import load_backbone_weights

TTA_MODES = ("none", "hflip")
# How a head turns the backbone's feature map into logits per photo.
# "avg": a linear head on average-pooled features (every model up to version 10).
# "lse": the linear head scores every location of the map and a log-mean-exp pools the scores,
# so one patch (a misspelt word, a stretch of skipped stitches, a small logo in a street photo)
# need not outweigh the rest of the photo, as a mean over the map makes it; the parcel pooling
# does the same over photos.
POOLS = ("avg", "lse")


@dataclass
class NetSpec:
    """Everything needed to rebuild the network; stored as JSON beside the weights."""

    backbone: str = "tf_efficientnet_lite0"
    brands: list[str] = field(default_factory=list)
    image_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    dropout: float = 0.2
    # Test-time augmentation: "none", or "hflip" (logits averaged with the mirrored photo's).
    tta: str = "none"
    # Defect kinds of an auxiliary multi-label head (train.defect_loss_weight > 0 on annotated
    # data): one output per kind of flaw, so a union of a dozen different cues is not learned as
    # one. Empty: no such head. Serving ignores it.
    defects: list[str] = field(default_factory=list)
    # Printed lines of an auxiliary reading head (train.read_loss_weight > 0 on data that says
    # what each photo's print reads): a brand name or a "made in" line per output. Serving
    # ignores it too.
    printed: list[str] = field(default_factory=list)
    # One of POOLS for each head; packages saved before these keys load as "avg".
    cf_pool: str = "avg"
    brand_pool: str = "avg"
    # 0: photos are letterboxed at image_size. A multiple of image_size: photos are letterboxed
    # at this size and each is scored as the mean of its detail views (the whole photo and a
    # grid of full-resolution crops, `infer.preprocess.detail_views`).
    detail_size: int = 0

    @property
    def input_size(self) -> int:
        """The size photos are letterboxed at before they reach `predict_arrays`."""
        return self.detail_size or self.image_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetSpec:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(float(v) for v in known[key])
        return cls(**known)


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
        _check_pools(spec.cf_pool, spec.brand_pool)

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


def _check_pools(*pools: str) -> None:
    for pool in pools:
        if pool not in POOLS:
            raise ValueError(f"cf_pool and brand_pool must be one of {POOLS}, got {pool!r}")


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
    _check_pools(cf_pool, brand_pool)
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


def expected_views(spec: NetSpec, shape) -> int:
    """How many images of `spec.image_size` one photo of `shape` (H, W) becomes. With detail
    views a photo letterboxed at the wrong size is an error here, not a silently wrong score
    (without them any size runs, as a convolutional network allows)."""
    if not spec.detail_size:
        return 1
    if tuple(shape) != (spec.detail_size, spec.detail_size):
        raise ValueError(f"photos must be letterboxed at {spec.detail_size} px for this model "
                         f"(detail_size), got {tuple(shape)}")
    return 1 + len(crop_offsets(spec.detail_size, spec.image_size)) ** 2


def view_batches(spec: NetSpec, arrays: np.ndarray, batch_size: int) -> tuple[int, list[slice]]:
    """(views per photo, the photos of each forward pass): a pass holds whole photos, at most
    `batch_size` images of `spec.image_size` once each photo is expanded by `as_views`."""
    views = expected_views(spec, arrays.shape[1:3])
    per_batch = max(1, batch_size // views)
    return views, [slice(i, i + per_batch) for i in range(0, len(arrays), per_batch)]


def as_views(spec: NetSpec, photos: np.ndarray) -> np.ndarray:
    """[n, S, S, 3] letterboxed photos -> [n * views, size, size, 3] network inputs."""
    if not spec.detail_size:
        return photos
    return detail_views(photos, spec.image_size).reshape(-1, spec.image_size, spec.image_size, 3)


def mean_over_views(outputs, views: int):
    """Per-image outputs (torch or numpy, photo-major) -> one row per photo."""
    if views == 1:
        return tuple(outputs)
    return tuple(t.reshape(-1, views, *t.shape[1:]).mean(1) for t in outputs)


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


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
