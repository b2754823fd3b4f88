"""Per-photo counterfeit logits -> one parcel probability.

A fake often shows in a single close-up (a misspelt "made in" line, one wavy stitch row) while
the other photos look clean, so averaging dilutes the evidence; a hard max is brittle to a single
noisy photo. The candidates span that range and training picks one on validation parcels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _logit_mean(logits: np.ndarray) -> float:
    return float(logits.mean())


def _prob_mean(logits: np.ndarray) -> float:
    p = sigmoid(logits).mean()
    return float(np.log(p / (1 - p + 1e-12) + 1e-12))


def _max(logits: np.ndarray) -> float:
    return float(logits.max())


def _top2_mean(logits: np.ndarray) -> float:
    return float(np.sort(logits)[-2:].mean())


def _log_mean_exp(logits: np.ndarray) -> float:
    # A soft maximum: dominated by the most suspicious photo, but not by it alone.
    top = logits.max()
    return float(top + np.log(np.mean(np.exp(logits - top))))


POOLINGS: dict[str, Callable[[np.ndarray], float]] = {
    "logit_mean": _logit_mean,
    "prob_mean": _prob_mean,
    "log_mean_exp": _log_mean_exp,
    "top2_mean": _top2_mean,
    "max": _max,
}


def pool_logits(logits: Sequence[float] | np.ndarray, method: str) -> float:
    """Pooled counterfeit logit of one parcel."""
    if method not in POOLINGS:
        raise ValueError(f"unknown pooling {method!r}; choose from {sorted(POOLINGS)}")
    values = np.asarray(logits, dtype=np.float64)
    if values.size == 0:
        raise ValueError("cannot pool a parcel without photos")
    return POOLINGS[method](values)


def pool_brand(probabilities: np.ndarray) -> np.ndarray:
    """Mean of per-photo brand distributions (close-ups of stitching say little about brand)."""
    return np.asarray(probabilities, dtype=np.float64).mean(axis=0)

