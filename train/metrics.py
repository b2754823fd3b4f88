"""Photo- and parcel-level metrics, pooling choice and temperature fitting."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.optimize import minimize, minimize_scalar
from sklearn.metrics import roc_auc_score

from infer.calibration import ParcelCalibration
from infer.pooling import POOLINGS, pool_brand, pool_logits, sigmoid

ECE_BINS = 15



def auroc(y: np.ndarray, score: np.ndarray) -> float | None:
    y, score = np.asarray(y, float), np.asarray(score, float)
    keep = np.isfinite(y) & np.isfinite(score)
    y, score = y[keep], score[keep]
    if len(np.unique(y)) < 2:
        return None
    return float(roc_auc_score(y, score))


def ece(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float | None:
    """Expected calibration error with equal-width bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    keep = np.isfinite(y) & np.isfinite(p)
    y, p = y[keep], p[keep]
    if len(y) == 0:
        return None
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            total += m.sum() / len(y) * abs(y[m].mean() - p[m].mean())
    return float(total)


def ece_floor(p: np.ndarray, bins: int = ECE_BINS, draws: int = 200, seed: int = 0) -> float | None:
    """The ECE a perfectly calibrated model with these probabilities would show on this many
    parcels, on average: outcomes drawn from the probabilities themselves. ECE is biased upwards
    on small sets (about 0.05 on 360 parcels), so an ECE near this floor is all a set of this
    size can tell apart from perfect calibration."""
    p = np.asarray(p, float)
    p = p[np.isfinite(p)]
    if len(p) == 0:
        return None
    rng = np.random.default_rng(seed)
    return float(np.mean([ece((rng.random(len(p)) < p).astype(float), p, bins) for _ in range(draws)]))


def pool_parcels(
    photos: pd.DataFrame, brand_probs: np.ndarray, brands: list[str], pooling: str, temperature=1.0
) -> pd.DataFrame:
    """One row per parcel from per-photo `logit` (NaN = unreadable) and brand probabilities."""
    rows = []
    for pid, idx in photos.groupby("parcel_id", sort=True).indices.items():
        part = photos.iloc[idx]
        ok = np.isfinite(part["logit"].to_numpy())
        if not ok.any():
            continue
        logit = pool_logits(part["logit"].to_numpy()[ok] / temperature, pooling)
        row = {
            "parcel_id": pid,
            "target": part["target"].max(),
            "logit": logit,
            "prob": float(sigmoid(logit)),
            "n_photos": int(ok.sum()),
            "brand": part["brand"].iloc[0],
            "defects": part["defects"].iloc[0] if "defects" in part else "",
        }
        if len(brands):
            probs = pool_brand(brand_probs[idx][ok])
            k = int(np.argmax(probs))
            row.update(brand_pred=brands[k], brand_prob=float(probs[k]))
        rows.append(row)
    return pd.DataFrame(rows)


def choose_pooling(photos: pd.DataFrame, brand_probs, brands) -> tuple[str, dict[str, float]]:
    """Best validation parcel AUROC; ties go to the earlier (smoother) entry of POOLINGS."""
    scores = {}
    for name in POOLINGS:
        parcels = pool_parcels(photos, brand_probs, brands, name)
        scores[name] = auroc(parcels["target"], parcels["logit"]) or 0.0
    best = max(POOLINGS, key=lambda n: (round(scores[n], 4), -list(POOLINGS).index(n)))
    return best, scores


def _fit_scalar(loss: Callable[[float], float]) -> float:
    res = minimize_scalar(lambda log_t: loss(float(np.exp(log_t))),
                          bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def fit_counterfeit_temperature(photos: pd.DataFrame, pooling: str) -> float:
    """T minimising parcel log loss when every photo logit is divided by T before pooling
    (temperature scaling, applied where the Inspector applies it)."""
    labelled = photos[np.isfinite(photos["target"])]
    if labelled.empty or labelled["target"].nunique() < 2:
        return 1.0

    def nll(t: float) -> float:
        parcels = pool_parcels(labelled, np.zeros((len(labelled), 0)), [], pooling, temperature=t)
        z, y = parcels["logit"].to_numpy(), parcels["target"].to_numpy()
        return float(np.mean(np.logaddexp(0, z) - y * z))

    return _fit_scalar(nll)


def fit_brand_temperature(brand_logits: np.ndarray, brand_index: np.ndarray) -> float:
    known = brand_index >= 0
    if not known.any() or brand_logits.shape[1] < 2:
        return 1.0
    z, k = brand_logits[known], brand_index[known]

    def nll(t: float) -> float:
        zt = z / t
        zt = zt - zt.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(zt).sum(axis=1)) - zt[np.arange(len(k)), k]))

    return _fit_scalar(nll)


def brand_accuracy(true: pd.Series, pred: pd.Series) -> float | None:
    known = true.fillna("") != ""
    if not known.any():
        return None
    return float((true[known] == pred[known]).mean())


def summarize(photos: pd.DataFrame, parcels: pd.DataFrame) -> dict[str, float | int | None]:
    """The headline numbers; a metric needing a label is None when no row carries it."""
    labelled = photos[np.isfinite(photos["target"])]
    p_lab = parcels[np.isfinite(parcels["target"])]
    out: dict[str, float | int | None] = {
        "photo_auroc": auroc(labelled["target"], labelled["logit"]),
        "parcel_auroc": auroc(p_lab["target"], p_lab["logit"]),
        "ece": ece(p_lab["target"], p_lab["prob"]) if len(p_lab) else None,
        "ece_floor": ece_floor(p_lab["prob"]) if len(p_lab) else None,
        "photo_ece": ece(labelled["target"], sigmoid(labelled["logit"])) if len(labelled) else None,
        "brand_accuracy": brand_accuracy(parcels["brand"], parcels.get("brand_pred", pd.Series())),
        "photo_brand_accuracy": brand_accuracy(
            photos["brand"], photos.get("brand_pred", pd.Series(dtype=str))
        ),
        "n_photos": int(len(photos)),
        "n_unreadable": int((~np.isfinite(photos["logit"])).sum()),
        "n_parcels": int(len(parcels)),
        "n_counterfeit_parcels": int((p_lab["target"] == 1).sum()),
        "n_genuine_parcels": int((p_lab["target"] == 0).sum()),
    }
    shows = labelled.get("visible_defects", pd.Series(dtype=str)).fillna("") != ""
    if shows.any():
        # Photo AUROC against what each photo actually shows (synthetic sets only).
        out["evidence_auroc"] = auroc(shows.astype(float), labelled["logit"])
    if len(p_lab):
        out["parcel_accuracy_at_0.5"] = float(((p_lab["prob"] >= 0.5) == (p_lab["target"] == 1)).mean())
    return out


def recall_by_view_and_defect(photos: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Photo-level recall of counterfeit photos, per parcel defect (rows) and view (columns).

    A defect caught only through close-ups shows high recall in `label`/`stitching`/`logo`
    columns and low recall in `side`."""
    fakes = photos[(photos["target"] == 1) & np.isfinite(photos["logit"])].copy()
    if fakes.empty or "view" not in fakes or (fakes["view"] == "").all():
        return pd.DataFrame()
    fakes["caught"] = sigmoid(fakes["logit"]) >= threshold
    fakes["defect"] = fakes["defects"].fillna("").str.split(";")
    fakes = fakes.explode("defect")
    fakes["defect"] = fakes["defect"].replace("", "(unlisted)")
    table = fakes.pivot_table(index="defect", columns="view", values="caught", aggfunc="mean")
    table["all views"] = fakes.groupby("defect")["caught"].mean()
    counts = fakes.groupby("defect")["caught"].size().rename("n_photos")
    return table.join(counts).sort_index()


def fit_parcel_calibration(parcels: pd.DataFrame) -> ParcelCalibration:
    """Platt scaling of pooled parcel logits on labelled parcels: (a, b) minimising log loss plus
    a weak pull towards the identity, with a in [0.1, 10] and |b| <= 10. Without the pull and
    bounds a validation set the model separates perfectly sends a to infinity and every parcel
    to probability 0 or 1."""
    lab = parcels[np.isfinite(parcels["target"])]
    if len(lab) < 2 or lab["target"].nunique() < 2:
        return ParcelCalibration()
    z, y = lab["logit"].to_numpy(float), lab["target"].to_numpy(float)
    pull = 1.0 / len(lab)

    def loss(params):
        log_a, b = params
        s = np.exp(log_a) * z + b
        return float(np.mean(np.logaddexp(0, s) - y * s) + pull * (log_a**2 + 0.1 * b**2))

    res = minimize(loss, x0=np.zeros(2), method="L-BFGS-B",
                   bounds=[(np.log(0.1), np.log(10.0)), (-10.0, 10.0)])
    return ParcelCalibration(float(np.exp(res.x[0])), float(res.x[1]))


def apply_parcel_calibration(parcels: pd.DataFrame, calibration: ParcelCalibration) -> pd.DataFrame:
    out = parcels.copy()
    if len(out):
        out["logit"] = calibration(out["logit"].to_numpy(float))
        out["prob"] = sigmoid(out["logit"].to_numpy(float))
    return out
