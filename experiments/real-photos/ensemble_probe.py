"""What averaging several CV runs' models would score, from their saved test predictions.

Runs of one config that differ only in `train.seed` share their folds (the folds depend on
`data.split_seed` and the data), so each fold's test photos are the same in every run, and the
mean of the runs' logits per photo is what an ensemble of those models would output. Prints the
photo and parcel AUROC per fold of each run and of the ensemble, and their means.

With `--bootstrap N` it also says how much of a difference between the runs the listings alone
could make: the out-of-fold parcels (mean logit over each listing's photos, all folds pooled) are
resampled N times, by label, and each run's parcel AUROC and its gap to the first run are read on
every resample. A gap whose interval holds zero is not a finding, whatever the fold means say.

`runs/` is gitignored and a fresh checkout has none, so `--keep DIR` writes each run's test
predictions (path, listing, target, logit per photo; about 30 kB a fold) and, where the run has
one, its split by listing to DIR/RUN_NAME/, a folder this script reads like a run: commit it
under `experiments/`, and a later checkout can average with that run without training it again. Photos are matched by listing and file name, not by full path,
so runs made in another checkout or on a lent machine match this one's.

    python experiments/real-photos/ensemble_probe.py runs/real-photos/RUN_A runs/real-photos/RUN_B
    python experiments/real-photos/ensemble_probe.py RUN_A RUN_B --bootstrap 2000 --keep experiments/real-photos-gpu/predictions
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def fold_predictions(run: Path) -> list[pd.DataFrame]:
    folds = sorted(run.glob("fold-*/test_photos.csv"), key=lambda p: int(p.parent.name.split("-")[1]))
    if not folds:
        raise SystemExit(f"{run}: no fold-*/test_photos.csv (not a finished CV run)")
    frames = [pd.read_csv(p, usecols=["path", "parcel_id", "target", "logit"]) for p in folds]
    for frame in frames:
        frame["path"] = [os.path.relpath(p) for p in frame["path"]]
        frame["photo"] = frame["parcel_id"] + "/" + [os.path.basename(p) for p in frame["path"]]
    return frames


def keep(run: Path, folds: list[pd.DataFrame], out: Path) -> None:
    for k, frame in enumerate(folds):
        dest = out / run.name / f"fold-{k}" / "test_photos.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        frame.drop(columns="photo").to_csv(dest, index=False, float_format="%.6g")
        # Which listings trained the fold, one row per listing (no photo paths): enough for
        # learning_curve.py to count a kept run's training listings after `runs/` is gone.
        split = run / f"fold-{k}" / "split.csv"
        if split.is_file():
            listings = pd.read_csv(split, usecols=["parcel_id", "split"]).drop_duplicates("parcel_id")
            listings.to_csv(dest.parent / "split.csv", index=False)


def aurocs(df: pd.DataFrame, score: str) -> tuple[float, float]:
    photo = roc_auc_score(df["target"], df[score])
    # The same parcel pooling for every column: the mean logit, so that the comparison is of the
    # photo scores (most aj1-af1 listings have one photo).
    parcels = df.groupby("parcel_id").agg(target=("target", "max"), score=(score, "mean"))
    return photo, roc_auc_score(parcels["target"], parcels["score"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="resample the out-of-fold listings N times (0 = off)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="also write each run's test predictions to DIR/RUN_NAME/fold-K/")
    args = parser.parse_args()
    per_run = [fold_predictions(r) for r in args.runs]
    if args.keep:
        for run, folds in zip(args.runs, per_run, strict=True):
            if run.resolve().parent != args.keep.resolve():
                keep(run, folds, args.keep)
    n_folds = min(len(p) for p in per_run)
    names = [str(r) for r in args.runs] + ["ensemble (mean logit)"]
    table: list[list[tuple[float, float]]] = [[] for _ in names]
    pooled = []
    for k in range(n_folds):
        merged = per_run[0][k].rename(columns={"logit": "logit_0"})
        for i, preds in enumerate(per_run[1:], start=1):
            other = preds[k][["photo", "logit"]].rename(columns={"logit": f"logit_{i}"})
            if len(other) != len(merged) or set(other["photo"]) != set(merged["photo"]):
                raise SystemExit(f"fold {k}: {args.runs[i]} tested other photos than {args.runs[0]} "
                                 "(different folds: compare runs with the same split_seed and data)")
            merged = merged.merge(other, on="photo")
        merged["ensemble"] = merged[[f"logit_{i}" for i in range(len(per_run))]].mean(axis=1)
        pooled.append(merged)
        for i in range(len(names)):
            table[i].append(aurocs(merged, f"logit_{i}" if i < len(per_run) else "ensemble"))
    print(f"{'':<44} " + " ".join(f"fold {k:<7}" for k in range(n_folds)) + "  mean photo / parcel")
    for name, rows in zip(names, table, strict=True):
        photo = np.array([r[0] for r in rows])
        parcel = np.array([r[1] for r in rows])
        cells = " ".join(f"{p:.3f}/{q:.3f}" for p, q in rows)
        print(f"{name:<44} {cells}  {photo.mean():.3f} ± {photo.std(ddof=1):.3f} / {parcel.mean():.3f}")
    if args.bootstrap:
        columns = [f"logit_{i}" for i in range(len(per_run))] + ["ensemble"]
        bootstrap_parcels(pd.concat(pooled), columns, names, args.bootstrap)


def bootstrap_parcels(photos: pd.DataFrame, columns: list[str], names: list[str], n: int) -> None:
    parcels = photos.groupby("parcel_id").agg(target=("target", "max"), **{c: (c, "mean") for c in columns})
    rng = np.random.default_rng(0)
    by_label = [np.flatnonzero(parcels["target"].to_numpy() == t) for t in (0, 1)]
    scores = parcels[columns].to_numpy()
    target = parcels["target"].to_numpy()
    draws = np.empty((n, len(columns)))
    for b in range(n):
        # Resampled within each label, so that every draw has both classes and the same mix.
        idx = np.concatenate([rng.choice(group, size=len(group)) for group in by_label])
        draws[b] = [roc_auc_score(target[idx], scores[idx, j]) for j in range(len(columns))]
    full = [roc_auc_score(target, scores[:, j]) for j in range(len(columns))]
    print(f"\nout-of-fold parcel AUROC, {len(parcels)} listings ({int(target.sum())} counterfeit), "
          f"{n} resamples by label: value [2.5%, 97.5%]; gap to the first run, P(gap > 0)")
    for j, name in enumerate(names):
        lo, hi = np.percentile(draws[:, j], [2.5, 97.5])
        line = f"{name:<44} {full[j]:.3f} [{lo:.3f}, {hi:.3f}]"
        if j:
            gap = draws[:, j] - draws[:, 0]
            glo, ghi = np.percentile(gap, [2.5, 97.5])
            line += f"   gap {full[j] - full[0]:+.3f} [{glo:+.3f}, {ghi:+.3f}], P {np.mean(gap > 0):.2f}"
        print(line)


if __name__ == "__main__":
    main()
