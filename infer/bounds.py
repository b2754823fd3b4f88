"""Exact binomial (Clopper-Pearson) bounds on an error rate seen as `errors` of `n`: what the
review band is certified with in training (`train.band`) and checked with in deployment
(`infer.review.monitor`). Not imported by serving code, which need not carry scipy."""

from __future__ import annotations

from scipy.stats import beta


def error_upper_bound(errors: int, n: int, delta: float) -> float:
    """One-sided upper bound: the true rate is below it with probability at least 1 - delta."""
    if n == 0 or errors >= n:
        return 1.0
    return float(beta.ppf(1 - delta, errors + 1, n - errors))


def error_lower_bound(errors: int, n: int, delta: float) -> float:
    """One-sided lower bound: the true rate is above it with probability at least 1 - delta."""
    if n == 0 or errors <= 0:
        return 0.0
    return float(beta.ppf(delta, errors, n - errors + 1))
