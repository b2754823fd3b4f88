"""experiments/real-photos/learning_curve.py on made-up CV predictions with a known curve."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "experiments" / "real-photos" / "learning_curve.py"
sys.path.insert(0, str(SCRIPT.parent))
from learning_curve import fit_power_law, listings_for  # noqa: E402


def test_power_law_fit_recovers_its_parameters_and_inverts():
    n = np.array([100.0, 200.0, 400.0])
    auroc = 1 - 0.5 * n ** -0.3
    a, b = fit_power_law(n, auroc)
    assert np.isclose(a, 0.5) and np.isclose(b, 0.3)
    assert np.isclose(1 - a * listings_for(0.95, a, b) ** -b, 0.95)
    assert listings_for(0.95, a, -0.1) == float("inf")  # a curve going down never gets there


def fake_run(folder: Path, noise: float, train_per_fold: int, seed: int, photos: int = 400) -> None:
    rng = np.random.default_rng(seed)
    truth = np.random.default_rng(123)  # the same listings and labels in every run
    target = truth.integers(0, 2, photos)
    for k in range(3):
        fold = folder / f"fold-{k}"
        fold.mkdir(parents=True)
        rows = slice(k * photos // 3, (k + 1) * photos // 3)
        ids = [f"{k}:src/listing-{i}" for i in range(photos)][rows]
        pd.DataFrame({
            "path": [f"/data/{i.split('/')[1]}.jpg" for i in ids], "target": target[rows],
            "parcel_id": ids, "logit": target[rows] * 2.0 - 1 + rng.normal(0, noise, len(ids)),
        }).to_csv(fold / "test_photos.csv", index=False)
        pd.DataFrame({"path": [f"t{i}.jpg" for i in range(train_per_fold + 5)],
                      "parcel_id": [f"t{i}" for i in range(train_per_fold + 5)],
                      "split": ["train"] * train_per_fold + ["val"] * 5}).to_csv(fold / "split.csv", index=False)


def test_curve_counts_listings_from_split_files_and_rises_with_data(tmp_path):
    for name, noise, n, seed in (("q", 2.0, 50, 1), ("h", 1.4, 100, 2), ("f", 1.0, 200, 3)):
        fake_run(tmp_path / name, noise, n, seed)
    kept = tmp_path / "kept" / "full"  # a kept-predictions folder: no split files
    kept.mkdir(parents=True)
    for k in range(3):
        (kept / f"fold-{k}").mkdir()
        (tmp_path / "f" / f"fold-{k}" / "test_photos.csv").rename(kept / f"fold-{k}" / "test_photos.csv")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(SCRIPT), f"{tmp_path / 'h'}:0.5", f"{tmp_path / 'q'}:0.25",
                           f"{kept}:1", "--bootstrap", "20", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "learning_curve.csv")
    assert list(table["fraction"]) == [0.25, 0.5, 1.0]
    # 50 and 100 counted from split.csv (val rows left out); the kept folder is 1.0 x 200 per unit
    assert list(table["train_listings"]) == [50, 100, 200]
    assert table["oof_listing_auroc"].is_monotonic_increasing
    assert (table["ci_low"] <= table["oof_listing_auroc"]).all()
    assert (out / "learning_curve.png").stat().st_size > 0
    assert "training listings" in done.stdout


def test_points_on_different_folds_are_refused(tmp_path):
    fake_run(tmp_path / "a", 1.0, 50, 1)
    fake_run(tmp_path / "b", 1.0, 100, 2, photos=300)
    done = subprocess.run([sys.executable, str(SCRIPT), f"{tmp_path / 'a'}:0.5", f"{tmp_path / 'b'}:1",
                           "--bootstrap", "0"], capture_output=True, text=True, cwd=REPO)
    assert done.returncode != 0 and "same out-of-fold photos" in done.stderr


def test_kept_predictions_keep_the_training_listings(tmp_path):
    """ensemble_probe.py --keep carries each fold's listing split, so a kept point is counted."""
    fake_run(tmp_path / "runs" / "q", 2.0, 50, 1)
    fake_run(tmp_path / "runs" / "f", 1.0, 200, 3)
    kept = tmp_path / "kept"
    probe = SCRIPT.parent / "ensemble_probe.py"
    done = subprocess.run([sys.executable, str(probe), str(tmp_path / "runs" / "q"), str(tmp_path / "runs" / "f"),
                           "--keep", str(kept)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    split = pd.read_csv(kept / "q" / "fold-0" / "split.csv")
    assert list(split.columns) == ["parcel_id", "split"] and split["parcel_id"].is_unique
    out = tmp_path / "out"
    # 0.3 and 0.9 are deliberately not 50/200 of anything: the counts must come from the split files
    done = subprocess.run([sys.executable, str(SCRIPT), f"{kept / 'q'}:0.3", f"{kept / 'f'}:0.9",
                           "--bootstrap", "0", "--out", str(out)], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert list(pd.read_csv(out / "learning_curve.csv")["train_listings"]) == [50, 200]
