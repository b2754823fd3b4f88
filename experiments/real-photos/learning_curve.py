"""How a CV recipe's AUROC grows with the number of training listings (`data.train_fraction`).

Each point is one CV run of the same config and folds, trained on a share of each fold's training
listings (validation and test unchanged; train/data.py: thin_training). All points score the same
out-of-fold photos, so the listings are resampled once per bootstrap draw for all points together,
and the fit is redone on every draw.

The fit is a power law in the error, 1 - AUROC = a * n^-b (n = training listings), the usual shape
of a learning curve once past its first few dozen examples. Its extrapolation to the target is a
rough guide to how much more data one recipe would need, not a promise: curves bend.

    python experiments/real-photos/learning_curve.py runs/lc-025:0.25 runs/lc-050:0.5 \
        experiments/real-photos-gpu/predictions/aj1af1-real-only-webp-cpu:1 \
        --target 0.93 --bootstrap 2000 --out runs/learning-curve

A point's training listings per fold come from its `fold-K/split.csv` (rows marked "train"; a
folder kept by `ensemble_probe.py --keep` carries it too); a folder without one (kept by an
older ensemble_probe.py) counts as its fraction times the per-fraction count of the points that have one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).parent))
from ensemble_probe import fold_predictions  # noqa: E402


def parse_point(text: str) -> tuple[Path, float]:
    run, sep, fraction = text.rpartition(":")
    if not sep or not run:
        raise argparse.ArgumentTypeError(f"{text!r}: expected RUN_DIR:FRACTION")
    try:
        value = float(fraction)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {fraction!r} is not a fraction") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the fraction must be in (0, 1]")
    return Path(run), value


def train_listings(run: Path) -> float | None:
    """Mean number of training listings over the run's folds, from its split files."""
    counts = []
    for split in sorted(run.glob("fold-*/split.csv")):
        df = pd.read_csv(split, usecols=["parcel_id", "split"])
        counts.append(df.loc[df["split"] == "train", "parcel_id"].nunique())
    return float(np.mean(counts)) if counts else None


def fit_power_law(n: np.ndarray, auroc: np.ndarray) -> tuple[float, float]:
    """(a, b) of 1 - AUROC = a * n^-b, least squares in log-log."""
    slope, intercept = np.polyfit(np.log(n), np.log(1.0 - auroc), 1)
    return float(np.exp(intercept)), float(-slope)


def listings_for(target: float, a: float, b: float) -> float:
    """Training listings at which the fitted curve reaches `target` (inf if it never does)."""
    if b <= 0:
        return float("inf")
    return float((a / (1.0 - target)) ** (1.0 / b))


def count(listings: float) -> str:
    return f"{listings:,.0f}" if listings < 1e6 else "over a million"


def pooled_parcels(points: list[list[pd.DataFrame]]) -> pd.DataFrame:
    """One row per out-of-fold listing: its label and each point's mean logit over its photos."""
    columns = []
    for i, folds in enumerate(points):
        photos = pd.concat(folds, ignore_index=True)
        columns.append(photos.groupby("photo")[["parcel_id", "target", "logit"]].first()
                       .rename(columns={"logit": f"p{i}"}))
    merged = columns[0]
    for i, other in enumerate(columns[1:], start=1):
        merged = merged.join(other[[f"p{i}"]], how="inner")
    if any(len(merged) != len(c) for c in columns):
        raise SystemExit("the points do not score the same out-of-fold photos (different folds?)")
    return merged.groupby("parcel_id").agg(target=("target", "max"),
                                           **{f"p{i}": (f"p{i}", "mean") for i in range(len(points))})


def plot(path: Path, n: np.ndarray, auroc: np.ndarray, low: np.ndarray, high: np.ndarray,
         a: float, b: float, target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(n, auroc, yerr=[auroc - low, high - auroc], fmt="o", capsize=3,
                label="out-of-fold listing AUROC (95% bootstrap)")
    reach = listings_for(target, a, b)
    right = max(n.max() * 4, min(reach * 1.2, n.max() * 40)) if np.isfinite(reach) else n.max() * 4
    grid = np.geomspace(n.min() * 0.8, right, 200)
    ax.plot(grid, 1 - a * grid ** -b, "--", label=f"fit: 1 - AUROC = {a:.2f} n^-{b:.2f}")
    ax.axhline(target, color="grey", lw=0.8, label=f"target {target}")
    ax.set_xscale("log")
    # Log-axis minor labels (3x10^2, 4x10^2...) collide; plain round counts read better.
    ticks = [t for t in (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
             if grid[0] <= t <= grid[-1]]
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("training listings per fold")
    ax.set_ylabel("AUROC")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("points", nargs="+", type=parse_point, metavar="RUN_DIR:FRACTION")
    parser.add_argument("--target", type=float, default=0.93)
    parser.add_argument("--bootstrap", type=int, default=2000, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="folder for learning_curve.png and .csv")
    args = parser.parse_args()
    if len(args.points) < 2:
        parser.error("a curve needs at least two points")
    args.points.sort(key=lambda p: p[1])

    counts = [train_listings(run) for run, _ in args.points]
    per_fraction = [c / f for c, (_, f) in zip(counts, args.points, strict=True) if c is not None]
    if not per_fraction:
        raise SystemExit("no point has fold-*/split.csv: the training listings cannot be counted")
    full = float(np.mean(per_fraction))
    n = np.array([c if c is not None else f * full for c, (_, f) in zip(counts, args.points, strict=True)])

    folds = [fold_predictions(run) for run, _ in args.points]
    parcels = pooled_parcels(folds)
    y = parcels["target"].to_numpy()
    scores = parcels[[f"p{i}" for i in range(len(folds))]].to_numpy()
    auroc = np.array([roc_auc_score(y, scores[:, i]) for i in range(scores.shape[1])])
    a, b = fit_power_law(n, auroc)

    rng = np.random.default_rng(args.seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    draws, reaches = [], []
    for _ in range(args.bootstrap):
        idx = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        row = np.array([roc_auc_score(y[idx], scores[idx, i]) for i in range(scores.shape[1])])
        draws.append(row)
        reaches.append(listings_for(args.target, *fit_power_law(n, np.minimum(row, 1 - 1e-6))))
    draws = np.array(draws) if draws else np.full((1, len(auroc)), np.nan)
    low, high = np.nanpercentile(draws, [2.5, 97.5], axis=0)

    table = pd.DataFrame({
        "run": [str(run) for run, _ in args.points],
        "fraction": [f for _, f in args.points],
        "train_listings": np.round(n, 1),
        "fold_photo_auroc_mean": [np.mean([roc_auc_score(d["target"], d["logit"]) for d in fs]) for fs in folds],
        "fold_photo_auroc_sd": [np.std([roc_auc_score(d["target"], d["logit"]) for d in fs], ddof=1) for fs in folds],
        "oof_listing_auroc": auroc, "ci_low": low, "ci_high": high,
    })
    pd.set_option("display.width", 200)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nout-of-fold listings: {len(y)} ({int(y.sum())} counterfeit)")
    reach = listings_for(args.target, a, b)
    print(f"fit: 1 - AUROC = {a:.3f} * n^-{b:.3f}; AUROC {args.target} at about {count(reach)} "
          f"training listings ({reach / n.max():.1f}x the largest point)")
    if reaches:
        r_low, r_mid, r_high = np.percentile(reaches, [2.5, 50, 97.5])
        print(f"bootstrap of that count (listings resampled, fit redone): median {count(r_mid)}, "
              f"95% {count(r_low)} to {count(r_high)}")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "learning_curve.csv", index=False, float_format="%.4f")
        plot(args.out / "learning_curve.png", n, auroc, low, high, a, b, args.target)
        print(f"wrote {args.out / 'learning_curve.png'} and learning_curve.csv")


if __name__ == "__main__":
    main()
