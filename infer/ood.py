"""Does a photo look like what the model was trained on? A Mahalanobis distance in feature space.

The network always answers "counterfeit" or "genuine", even for a photo of a cat or of an empty
table. The backbone's pooled features of the training photos are summarised by their mean and
their top principal directions; a photo whose features sit far outside that cloud (farther
than `quantile` of validation photos) is out of distribution. Distance to training features
is used rather than the logits' energy because the counterfeit head has a single logit and the
brand head only knows the training brands: both can be confidently wrong off-distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

OOD_FILE = "ood.safetensors"


@dataclass
class FeatureDensity:
    mean: np.ndarray  # [D]
    components: np.ndarray  # [k, D], orthonormal rows
    variances: np.ndarray  # [k]
    residual_variance: float  # mean variance outside the k directions
    threshold: float  # photo is out of distribution above this score

    @classmethod
    def fit(cls, features: np.ndarray, k: int = 32, shrink: float = 1e-3) -> FeatureDensity:
        x = np.asarray(features, np.float64)
        if len(x) < 3:
            raise ValueError(f"need at least 3 feature vectors to fit, got {len(x)}")
        mean = x.mean(0)
        centred = x - mean
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        var = s**2 / (len(x) - 1)
        k = int(min(k, len(var) - 1))
        total_floor = shrink * var.sum() / x.shape[1]
        residual = float(var[k:].sum() / max(1, x.shape[1] - k)) + total_floor
        return cls(mean, vt[:k], var[:k] + total_floor, residual, float("inf"))

    def score(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance per row, in the principal subspace plus the residual
        (so a photo off in directions training never varied in still scores high); / D."""
        x = np.asarray(features, np.float64) - self.mean
        proj = x @ self.components.T
        inside = (proj**2 / self.variances).sum(1)
        outside = ((x**2).sum(1) - (proj**2).sum(1)).clip(min=0) / self.residual_variance
        return (inside + outside) / x.shape[1]

    def set_threshold(self, features: np.ndarray, quantile: float = 0.99) -> float:
        self.threshold = float(np.quantile(self.score(features), quantile))
        return self.threshold

    def save(self, folder: str | Path) -> Path:
        path = Path(folder) / OOD_FILE
        # numpy, not torch, safetensors: the same file format, and serving through onnxruntime
        # then loads it without importing torch.
        tensors = {
            "mean": self.mean.astype(np.float32),
            "components": np.ascontiguousarray(self.components, dtype=np.float32),
            "variances": self.variances.astype(np.float32),
            "scalars": np.array([self.residual_variance, self.threshold], dtype=np.float64),
        }
        save_file(tensors, str(path))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> FeatureDensity | None:
        """None when the package predates out-of-distribution scoring."""
        path = Path(folder) / OOD_FILE
        if not path.is_file():
            return None
        t = load_file(str(path))
        residual, threshold = (float(v) for v in t["scalars"])
        return cls(t["mean"].astype(np.float64), t["components"].astype(np.float64),
                   t["variances"].astype(np.float64), residual, threshold)
