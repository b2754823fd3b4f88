"""One counterfeit score per case, pooled from its parcels' scores.

The rule is the mean of the members' logits, i.e. the geometric mean of their odds. Why:
- A case's parcels are one seller's stock of one model, so their scores are repeated, noisy
  readings of one fact. Summing logits (naive Bayes) would treat them as independent evidence
  and drive a 200-parcel case to certainty on photos that share the same blind spots; the mean
  keeps the scale of one calibrated parcel, so the review band still means what it says.
- Against the mean of probabilities, it keeps how sure each member is (0.99 and 0.9999 are
  2 logits apart, 0.01 apart as probabilities), and it is the pooling a parcel already applies
  to its own photos (`infer.pooling`, "logit_mean").
A member without a score (no photo) is left out of the pool; a case without any is unscored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def pool_case_logits(logits: Sequence[float] | np.ndarray) -> float:
    """Pooled counterfeit logit of one case from its members' logits (NaN: no score)."""
    values = np.asarray(logits, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def case_logits(cases: pd.DataFrame, parcel_logits: pd.Series) -> pd.Series:
    """Each parcel's case logit: `cases` has parcel_id and case_id, `parcel_logits` is indexed
    by parcel_id. Returned indexed by parcel_id, in the order of `cases`."""
    logits = cases["parcel_id"].map(parcel_logits).astype(float)
    pooled = logits.groupby(cases["case_id"]).agg(pool_case_logits)
    return pd.Series(cases["case_id"].map(pooled).to_numpy(), index=cases["parcel_id"].to_numpy(),
                     name="case_logit")


def probability(logit: float | np.ndarray) -> float | np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(logit, dtype=np.float64)))
