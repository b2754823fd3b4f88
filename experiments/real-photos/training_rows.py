"""Write the rows of one source that a finished run trained on, as a manifest.

With `--split val` or `--split test`, the rows it validated or was tested on instead: another
recipe can then be trained and judged on exactly the same listings (`data.val_manifests`,
`data.test_manifests`).

Runs write every photo's split (`split.csv`), and the training rows are read
from it. Earlier runs kept only their validation parcels (`val_parcels.csv`) and held-out photos
(`holdout/`), and the training rows are rebuilt from those. A model that is to warm-start that run's recipe (`model.init`) must not see those
photos either, or the run's validation and held-out numbers would measure memory. This rebuilds
the training rows: the source's manifest, filtered as the run read it, minus both.

    python experiments/real-photos/training_rows.py runs/real-photos/final \
        "../shared/data/sneaker-brands/labels.csv?kind!=in-the-wild" \
        --out runs/real-photos/final-training-rows/sneaker-brands.csv

Paths are written absolute, so the manifest can live anywhere. Parcel ids are the ones the run
used (`photo-<row>` where the source has none), so the copy check groups them as it did.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from train.data import load_sources, parse_source


def training_rows(run_dir: Path, spec: str, part: str = "train") -> tuple[pd.DataFrame, dict]:
    """The rows of source `spec` that landed in split `part` (train, val or test) of the run."""
    src = parse_source(spec)
    source = src.name
    rows = load_sources([src])
    rows["parcel_id"] = rows["parcel_id"].str.split("/", n=1).str[1]  # the manifest's own id
    split_file = run_dir / "split.csv"
    if split_file.is_file():
        split = pd.read_csv(split_file, dtype=str)
        trained = set(split.loc[(split["source"] == source) & (split["split"] == part), "path"])
        keep = rows[rows["path"].isin(trained)]
        return keep, {"rows": len(rows), part: len(keep), "from": str(split_file)}
    if part != "train":
        raise SystemExit(f"{run_dir}: no split.csv, so only the training rows can be rebuilt")
    val = pd.read_csv(run_dir / "val_parcels.csv", dtype=str)["parcel_id"]
    # Run-wide parcel ids are "<source number>:<source>/<parcel>"; keep those of this source.
    val_ids = {p.split("/", 1)[1] for p in val if p.split(":", 1)[-1].startswith(f"{source}/")}
    held_file = run_dir / "holdout" / f"{source}.csv"
    held_paths = set(pd.read_csv(held_file, dtype=str)["path"]) if held_file.is_file() else set()
    in_val = rows["parcel_id"].isin(val_ids)
    held = rows["path"].isin(held_paths)
    counts = {"rows": len(rows), "validation": int(in_val.sum()), "held_out": int(held.sum())}
    if counts["validation"] == 0 and counts["held_out"] == 0:
        raise SystemExit(f"{run_dir}: no validation or held-out rows of source {source!r}; wrong run?")
    keep = rows[~in_val & ~held]
    # The run's copy check dropped training photos that copy a validation or held-out photo.
    copies_file = run_dir / "copies.csv"
    if copies_file.is_file():
        pairs = pd.read_csv(copies_file, dtype=str)
        kept, other = set(keep["path"]), set(rows["path"]) - set(keep["path"])
        ends = list(zip(pairs["path_a"], pairs["path_b"], strict=True))
        copied = {a for a, b in ends if a in kept and b in other} | {b for a, b in ends if b in kept and a in other}
        keep = keep[~keep["path"].isin(copied)]
        counts["copies_of_those"] = len(copied)
    counts["training"] = len(keep)
    return keep, counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("source", help="the manifest spec as the run's config lists it")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--split", default="train", choices=("train", "val", "test"),
                        help="which of the run's splits to write (val and test need split.csv)")
    args = parser.parse_args(argv)
    keep, counts = training_rows(args.run_dir, args.source, args.split)
    columns = [c for c in ("path", "label", "brand", "parcel_id", "kind", "view") if c in keep.columns]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    keep[columns].to_csv(args.out, index=False)
    print(counts, "->", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
