"""Is the review band keeping its promise? The audit sample answers it.

A model's band promises that among the parcels it decides alone, at most `target_error` are
wrong. The queue holds a random share of those parcels (`why = 'audit'`), and once the liaison
has decided them, the share where the liaison disagrees with the model estimates that error
without bias: the audit draw does not look at the parcel. Per model version, this reports the
count, the error and exact bounds on it, and a status:
- `holding`: the upper bound is under the target;
- `breached`: the lower bound is above it (the error is over the target, beyond chance);
- `undecided`: too few audits to tell either way (with how many error-free audits `holding`
  would take).
"""

from __future__ import annotations

import math

from infer.bounds import error_lower_bound, error_upper_bound
from infer.review.queue import ReviewQueue

STATUSES = ("holding", "breached", "undecided")


def audits_needed(target_error: float, delta: float) -> int:
    """Error-free audits after which the upper bound drops under the target."""
    return math.ceil(math.log(delta) / math.log(1 - target_error))


def band_check(queue: ReviewQueue, target_error: float = 0.02, delta: float = 0.1) -> dict:
    if not 0 < target_error < 1 or not 0 < delta < 1:
        raise ValueError("target_error and delta must lie in (0, 1)")
    models: dict[tuple, dict] = {}
    for row in queue.audit_outcomes():
        key = (row["model_name"], row["model_version"], row["model_run_id"])
        m = models.setdefault(key, {"model": {"name": key[0], "version": key[1], "run_id": key[2]},
                                    "audited": 0, "waiting": 0, "cannot_tell": 0, "errors": 0,
                                    "wrong_parcels": []})
        if row["decision"] is None:
            m["waiting"] += 1
        elif row["decision"] == "cannot_tell":
            m["cannot_tell"] += 1
        else:
            m["audited"] += 1
            if row["decision"] != row["verdict"]:
                m["errors"] += 1
                m["wrong_parcels"].append(row["parcel_id"])
    out = []
    for m in models.values():
        n, k = m["audited"], m["errors"]
        upper, lower = error_upper_bound(k, n, delta), error_lower_bound(k, n, delta)
        status = "holding" if upper <= target_error else "breached" if lower > target_error else "undecided"
        out.append({**m, "error": k / n if n else None, "error_upper_bound": upper,
                    "error_lower_bound": lower, "status": status})
    return {"target_error": target_error, "delta": delta,
            "error_free_audits_to_hold": audits_needed(target_error, delta), "models": out}
