"""Parcel-level recalibration applied after pooling: p = sigmoid(a * z + b).

Temperature scaling of photo logits (fitted first) fixes over- or under-confidence; it cannot
fix a bias, and pooling a parcel's photos with a soft maximum shifts probabilities upwards. The
affine map on the pooled logit (Platt scaling) corrects both, and keeps the parcel ranking, so
AUROC is untouched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ParcelCalibration:
    a: float = 1.0
    b: float = 0.0

    def __call__(self, pooled_logit):
        return self.a * np.asarray(pooled_logit, dtype=np.float64) + self.b

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> ParcelCalibration:
        data = data or {}
        return cls(float(data.get("a", 1.0)), float(data.get("b", 0.0)))
