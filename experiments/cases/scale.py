"""Time linking a simulated day of N parcels with DuckDB: wall seconds and peak RSS.

    python experiments/cases/scale.py --parcels 100000

The day comes from train.traffic without photos (5-15 counterfeit sellers per 10,000 parcels,
15 % of parcels). Prints one JSON line: generation and linkage wall seconds, the process's peak
RSS after linking (DuckDB runs in-process, so its memory counts), pairs scored, and B-cubed F1.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from experiments.cases.evaluate import bcubed  # noqa: E402
from infer.cases.link import link_parcels  # noqa: E402
from train.traffic import simulate_day  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.9)
    args = parser.parse_args()
    start = time.perf_counter()
    day = simulate_day(args.parcels, seed=args.seed, progress=True)
    generated = time.perf_counter() - start
    rss_day = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    result = link_parcels(day.drop(columns=["label", "seller_id", "brand", "model"]),
                          threshold=args.threshold, progress=True)
    linked = time.perf_counter() - start
    joined = result.cases.merge(day[["parcel_id", "seller_id"]], on="parcel_id")
    print(json.dumps({
        "parcels": args.parcels, "generate_wall_s": round(generated, 1),
        "link_wall_s": round(linked, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_generating_mb": round(rss_day), "pairs_kept": len(result.pairs),
        "cases": int(joined["case_id"].nunique()),
        "bcubed_f1": round(bcubed(joined["case_id"], joined["seller_id"])["bcubed_f1"], 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
