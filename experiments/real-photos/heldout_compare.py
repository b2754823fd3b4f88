"""Two or more models on the same held-out photos: AUROC of each, and how far apart they are.

Reads per-photo scores written by `python -m train.evaluate --photos-out` (or a run's
`test_photos.csv`), matched by photo path. For each model: photo AUROC and listing AUROC (mean
logit over a listing's photos); for each model after the first, its gap to the first with a 95%
interval from resampling listings (by label, with replacement), since photos of one listing are
not independent. A gap whose interval holds zero is not a finding.

    python experiments/real-photos/heldout_compare.py final=runs/compare/final.csv \\
        real-only=runs/compare/real-only.csv --bootstrap 2000
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def load(specs: list[str]) -> tuple[pd.DataFrame, list[str]]:
    names, frames = [], []
    for spec in specs:
        name, _, path = spec.partition("=")
        if not path:
            raise SystemExit(f"{spec}: expected NAME=PATH")
        df = pd.read_csv(path, usecols=["path", "parcel_id", "target", "logit"])
        frames.append(df.rename(columns={"logit": name}).set_index("path"))
        names.append(name)
    table = frames[0]
    for frame in frames[1:]:
        if set(frame.index) != set(table.index):
            raise SystemExit(f"the files do not score the same photos ({len(table)} vs {len(frame)})")
        table = table.join(frame[[frame.columns[-1]]])
    return table.dropna(subset=names + ["target"]).reset_index(), names


def aurocs(table: pd.DataFrame, names: list[str]) -> dict[str, tuple[float, float]]:
    listings = table.groupby("parcel_id")[["target", *names]].mean()
    return {n: (roc_auc_score(table["target"], table[n]), roc_auc_score(listings["target"] > 0.5, listings[n]))
            for n in names}


def bootstrap(table: pd.DataFrame, names: list[str], n: int, seed: int) -> dict[str, list[float]]:
    """95% intervals of each model's photo-AUROC gap to the first, listings resampled by label."""
    rng = np.random.default_rng(seed)
    label = table.groupby("parcel_id")["target"].max()
    groups = {pid: idx for pid, idx in table.groupby("parcel_id").indices.items()}
    strata = [label.index[label == v].to_numpy() for v in (0, 1)]
    gaps = {m: [] for m in names[1:]}
    for _ in range(n):
        pick = np.concatenate([rng.choice(s, len(s)) for s in strata])
        rows = np.concatenate([groups[p] for p in pick])
        sample = table.iloc[rows]
        first = roc_auc_score(sample["target"], sample[names[0]])
        for m in names[1:]:
            gaps[m].append(roc_auc_score(sample["target"], sample[m]) - first)
    return {m: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for m, v in gaps.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scores", nargs="+", help="NAME=PATH of a per-photo score CSV; the first is the reference")
    ap.add_argument("--bootstrap", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    table, names = load(args.scores)
    result = {"photos": len(table), "listings": int(table["parcel_id"].nunique()),
              "auroc": {n: {"photo": round(p, 4), "listing": round(q, 4)} for n, (p, q) in aurocs(table, names).items()}}
    first = result["auroc"][names[0]]["photo"]
    intervals = bootstrap(table, names, args.bootstrap, args.seed) if args.bootstrap and len(names) > 1 else {}
    result["photo_gap_to_" + names[0]] = {
        m: {"gap": round(result["auroc"][m]["photo"] - first, 4), "interval_95": [round(x, 4) for x in ci]}
        for m, ci in intervals.items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
