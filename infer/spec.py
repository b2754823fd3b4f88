"""What a shipped network is, without the network: its spec and the array bookkeeping around it.

Nothing here imports torch or timm, so serving through onnxruntime (`infer.onnx_backend`) starts
in about a second instead of the ~9 s those imports take on a 2-core box.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

# Spec keys of features that were measured, not adopted, and removed, with the value that means
# "not used". A package that uses one would be scored wrongly by this code, so it is refused.
RETIRED = {"tta": "none", "defects": [], "printed": [], "cf_pool": "avg", "brand_pool": "avg",
           "detail_size": 0}


@dataclass
class NetSpec:
    """Everything needed to rebuild the network; stored as JSON beside the weights."""

    backbone: str = "tf_efficientnet_lite0"
    brands: list[str] = field(default_factory=list)
    image_size: int = 224
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    dropout: float = 0.2
    # True: the brand is the mean of the whole photo's probabilities and those of a crop around
    # the shoe, found by an ImageNet footwear map (`infer.shoe_crop`); the counterfeit score and
    # the out-of-distribution score stay the whole photo's. Needs torch, also with onnxruntime.
    shoe_crop: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NetSpec:
        used = sorted(k for k, off in RETIRED.items() if data.get(k, off) not in (off, None))
        if used:
            raise ValueError(f"this package uses {', '.join(f'{k}={data[k]!r}' for k in used)}, "
                             "which this version no longer runs (retired); retrain the model")
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(float(v) for v in known[key])
        return cls(**known)


def batches(n: int, batch_size: int) -> list[slice]:
    """The photos of each forward pass."""
    return [slice(i, i + batch_size) for i in range(0, n, max(1, batch_size))]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
