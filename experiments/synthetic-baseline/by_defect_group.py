"""Parcel AUROC of a run's test fakes by what gives them away, each group against all genuine
parcels: fakes whose only defects are label text (typo, country, font, misaligned line) vs fakes
with at least one visual defect. Usage: python experiments/synthetic-baseline/by_defect_group.py RUN_DIR..."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

TEXT = {"label_typo", "label_country", "label_font", "label_misaligned"}


def groups(parcels: pd.DataFrame) -> dict[str, float]:
    genuine = parcels[parcels["target"] == 0]
    fakes = parcels[parcels["target"] == 1]
    text_only = fakes["defects"].fillna("").map(lambda d: set(d.split(";")) <= TEXT)
    out = {"all": roc_auc_score(parcels["target"], parcels["prob"])}
    for name, part in (("text_only", fakes[text_only]), ("visual", fakes[~text_only])):
        both = pd.concat([genuine, part])
        out[f"{name} ({len(part)})"] = roc_auc_score(both["target"], both["prob"])
    return out


if __name__ == "__main__":
    for run in sys.argv[1:]:
        scores = groups(pd.read_csv(Path(run) / "test_parcels.csv"))
        print(run, "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
