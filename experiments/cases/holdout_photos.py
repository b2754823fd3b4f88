"""A photo manifest of the listings a training run held out (its test split), for train.traffic.

    python experiments/cases/holdout_photos.py --run /work/main/runs/real-photos/final \
        --labels ../shared/data/aj1-af1-photos/labels.csv --out datasets/traffic/holdout-photos.csv

Writes path (absolute), label, brand, parcel_id, model: the photos of `--labels` that the run's
split.csv puts in `test`, i.e. photos the run's model neither trained on nor was chosen on.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def holdout(run: Path, labels: Path, split: str = "test") -> pd.DataFrame:
    split_csv = run / "split.csv"
    if not split_csv.is_file():
        raise FileNotFoundError(f"{split_csv}: no split.csv in the run folder")
    splits = pd.read_csv(split_csv, dtype=str)
    manifest = pd.read_csv(labels, dtype=str, keep_default_na=False)
    missing = {"path", "label", "brand", "parcel_id", "model"} - set(manifest.columns)
    if missing:
        raise ValueError(f"{labels}: no {', '.join(sorted(missing))} column")
    manifest["path"] = [str((labels.parent / p).resolve()) for p in manifest["path"]]
    held = set(splits.loc[splits["split"] == split, "path"])
    out = manifest[manifest["path"].isin(held)][["path", "label", "brand", "parcel_id", "model"]]
    if out.empty:
        raise ValueError(f"{split_csv}: no {split} photos of {labels}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    out = holdout(args.run, args.labels.resolve(), args.split)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    counts = out.groupby(["model", "label"])["parcel_id"].nunique().to_dict()
    print(f"{args.out}: {len(out)} photos of {out['parcel_id'].nunique()} listings {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
