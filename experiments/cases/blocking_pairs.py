"""Candidate pairs each blocking key makes on a simulated day: the keys the linker uses, and the
wider ones they replaced (a key shared by a fixed share of the day grows with its square).

    python experiments/cases/blocking_pairs.py --parcels 100000

Prints one JSON object: pairs of parcels sharing each key (non-null), before Splink removes
pairs that an earlier key already made.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infer.cases.features import linking_frame  # noqa: E402
from infer.cases.records import clean_records  # noqa: E402
from train.traffic import simulate_day  # noqa: E402

KEYS = {
    "seller_key": ["seller_key"],
    "phone_last7": ["phone_last7"],
    "name_norm + origin_city": ["name_norm", "origin_city"],
    "address_norm": ["address_norm"],
    "route by the hour": ["origin_city", "destination_country", "dispatch_hour", "style_code"],
    "replaced: name_norm": ["name_norm"],
    "replaced: route by the day": ["origin_city", "destination_country", "dispatch_day",
                                   "style_code"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    day = simulate_day(args.parcels, seed=args.seed)
    frame = linking_frame(clean_records(day.drop(columns=["label", "seller_id"]))[0])
    frame["dispatch_day"] = frame["dispatch_hour"].str[:10]
    pairs = {}
    for name, columns in KEYS.items():
        sizes = frame.dropna(subset=columns).groupby(columns).size()
        pairs[name] = int((sizes * (sizes - 1) // 2).sum())
    print(json.dumps({"parcels": args.parcels, "seed": args.seed, "pairs": pairs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
