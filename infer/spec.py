"""What a shipped network is, without the network: its spec and the array bookkeeping around it.

Nothing here imports torch or timm, so serving through onnxruntime (`infer.onnx_backend`) starts
in about a second instead of the ~9 s those imports take on a 2-core box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from infer.preprocess import crop_offsets, detail_views

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
    # True: the brand is the mean of the whole photo's probabilities and those of a crop around
    # the shoe, found by an ImageNet footwear map (`infer.shoe_crop`); the counterfeit score and
    # the out-of-distribution score stay the whole photo's. Needs torch, also with onnxruntime.
    shoe_crop: bool = False

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


def check_pools(*pools: str) -> None:
    for pool in pools:
        if pool not in POOLS:
            raise ValueError(f"cf_pool and brand_pool must be one of {POOLS}, got {pool!r}")


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


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
