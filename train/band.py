"""The review band: which parcels the inspector may decide alone, with a guarantee.

A parcel is decided automatically when its calibrated probability is at least `c` away from a
coin flip on either side (p < 1 - c: genuine, p >= c: counterfeit) and goes to a person
otherwise. `c` is chosen on validation parcels by Learn-then-Test (Angelopoulos et al., 2021)
over a fixed grid of candidates: each candidate gets a Clopper-Pearson upper bound on the error
among the parcels it decides, at level delta / len(grid) (Bonferroni, so all bounds hold at
once), and the most permissive candidate whose bound is under the target wins. With probability
at least 1 - delta over the draw of the validation set, the error among automatically decided
new (exchangeable) parcels is then at most `target_error`. If no candidate passes, every parcel
goes to review: the honest answer when validation is too small or the model too weak.
A fixed-sequence test would need no Bonferroni factor but stops at the first candidate, and the
most cautious candidates decide too few parcels to ever pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from infer.bounds import error_upper_bound


@dataclass
class Band:
    genuine_below: float
    counterfeit_above: float
    confidence: float  # c
    target_error: float
    delta: float
    n: int  # validation parcels
    n_auto: int  # decided automatically at c
    errors: int
    error_upper_bound: float  # Clopper-Pearson, level 1 - delta

    @property
    def coverage(self) -> float:
        return self.n_auto / self.n if self.n else 0.0

    @property
    def error(self) -> float:
        return self.errors / self.n_auto if self.n_auto else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "coverage": self.coverage, "error": self.error}


def decided_errors(p: np.ndarray, y: np.ndarray, genuine_below: float,
                   counterfeit_above: float) -> tuple[int, int]:
    """(decided automatically, wrong among them): genuine below one threshold, counterfeit at or
    above the other, the rest to review."""
    auto = (p < genuine_below) | (p >= counterfeit_above)
    wrong = auto & ((p >= counterfeit_above) != (y == 1))
    return int(auto.sum()), int(wrong.sum())


def selective_error(p: np.ndarray, y: np.ndarray, c: float) -> tuple[int, int]:
    """(decided automatically, wrong among them) at confidence `c`."""
    return decided_errors(p, y, 1 - c, c)


GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 0.995)


def choose_band(p, y, target_error: float = 0.02, delta: float = 0.1, grid=GRID) -> Band:
    p, y = np.asarray(p, float), np.asarray(y, float)
    keep = np.isfinite(p) & np.isfinite(y)
    p, y = p[keep], y[keep]
    if not 0 < target_error < 1 or not 0 < delta < 1:
        raise ValueError("target_error and delta must lie in (0, 1)")
    level = delta / len(grid)
    chosen = Band(0.0, 1.0, 1.0, target_error, delta, len(p), 0, 0, 1.0)
    for c in sorted(grid):  # most permissive first: the first to pass decides the most parcels
        n_auto, errors = selective_error(p, y, c)
        bound = error_upper_bound(errors, n_auto, level)
        if n_auto and bound <= target_error:
            chosen = Band(1 - c, c, c, target_error, delta, len(p), n_auto, errors, bound)
            break
    return chosen


def sweep(val: pd.DataFrame, test: pd.DataFrame | None, targets, delta: float = 0.1) -> list[dict]:
    """For each target error: the band chosen on `val` parcels, and what it does on `test`.

    Both frames have `prob` (calibrated parcel probability) and `target` (1 counterfeit, 0
    genuine, NaN unlabelled), as a run's val_parcels.csv and test_parcels.csv do."""
    val = val[np.isfinite(val["target"])]
    rows = []
    for target in targets:
        band = choose_band(val["prob"], val["target"], target, delta)
        row = {"target_error": target, "delta": delta, "confidence": band.confidence,
               "val_parcels": band.n, "val_coverage": band.coverage, "val_error": band.error,
               "val_error_upper_bound": band.error_upper_bound}
        if test is not None:
            lab = test[np.isfinite(test["target"])]
            n_auto, errors = selective_error(lab["prob"].to_numpy(float), lab["target"].to_numpy(float),
                                             band.confidence)
            row |= {"test_parcels": len(lab), "test_coverage": n_auto / len(lab) if len(lab) else 0.0,
                    "test_error": errors / n_auto if n_auto else None, "test_decided": n_auto,
                    "test_errors": errors}
        rows.append(row)
    return rows


def main(argv=None) -> int:
    """`python -m train.band RUN_DIR`: the review band a finished run would choose at other
    target errors, from its val_parcels.csv, and what that band does on its test_parcels.csv."""
    parser = argparse.ArgumentParser(prog="python -m train.band", description=main.__doc__)
    parser.add_argument("run_dir", help="a run's output_dir (holds val_parcels.csv)")
    parser.add_argument("--targets", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2])
    parser.add_argument("--delta", type=float, default=0.1)
    args = parser.parse_args(argv)
    run = Path(args.run_dir)
    if not (run / "val_parcels.csv").is_file():
        print(f"error: {run / 'val_parcels.csv'} not found (a run writes it when it has a "
              "validation split)", file=sys.stderr)
        return 2
    val = pd.read_csv(run / "val_parcels.csv")
    test = pd.read_csv(run / "test_parcels.csv") if (run / "test_parcels.csv").is_file() else None
    try:
        rows = sweep(val, test, args.targets, args.delta)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"run_dir": str(run), "bands": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
