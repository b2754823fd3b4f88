"""Figures a person would rather look at than read: ROC, reliability, confusion, recall map."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import confusion_matrix, roc_curve  # noqa: E402

from train.metrics import ECE_BINS  # noqa: E402


def roc_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]):
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (y, score) in curves.items():
        keep = np.isfinite(y) & np.isfinite(score)
        if len(np.unique(y[keep])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[keep], score[keep])
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(xlabel="false positive rate (genuine flagged)", ylabel="true positive rate (fakes caught)")
    ax.set_title("ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def reliability_figure(y: np.ndarray, p: np.ndarray, title: str = "Reliability (parcels)"):
    edges = np.linspace(0, 1, ECE_BINS + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, ECE_BINS - 1)
    centers, freq, counts = [], [], []
    for b in range(ECE_BINS):
        m = which == b
        if m.any():
            centers.append(p[m].mean())
            freq.append(y[m].mean())
            counts.append(m.sum())
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "k:", lw=0.8, label="perfect")
    ax.scatter(centers, freq, s=20 + 200 * np.asarray(counts) / max(1, max(counts, default=1)))
    ax.plot(centers, freq, "-", alpha=0.6, label="model")
    ax.set(xlabel="predicted counterfeit probability", ylabel="observed counterfeit share")
    ax.set(xlim=(0, 1), ylim=(0, 1), title=title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def confusion_figure(true: list, pred: list, labels: list[str], title: str):
    cm = confusion_matrix(true, pred, labels=labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(labels), 1.0 + 0.6 * len(labels)))
    ax.imshow(cm, cmap="Blues")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return fig


def recall_figure(table: pd.DataFrame):
    data = table.drop(columns=["n_photos"], errors="ignore")
    fig, ax = plt.subplots(figsize=(1.5 + 0.9 * data.shape[1], 1.0 + 0.45 * data.shape[0]))
    ax.imshow(data.to_numpy(float), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = data.iat[i, j]
            ax.text(j, i, "–" if pd.isna(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(data.shape[1]), data.columns, rotation=30, ha="right")
    ax.set_yticks(range(data.shape[0]), data.index)
    ax.set_title("Photo recall of fakes by defect and view")
    fig.tight_layout()
    return fig


def evaluation_figures(photos: pd.DataFrame, parcels: pd.DataFrame, brands: list[str], table):
    """name -> figure, for whatever the labels allow."""
    figs = {}
    y_ph, y_pa = photos["target"].to_numpy(float), parcels["target"].to_numpy(float)
    if len(np.unique(y_ph[np.isfinite(y_ph)])) == 2:  # brand-only test sets have no ROC
        figs["roc.png"] = roc_figure(
            {"photo": (y_ph, photos["logit"].to_numpy(float)),
             "parcel": (y_pa, parcels["logit"].to_numpy(float))}
        )
    lab = np.isfinite(y_pa)
    if lab.any():
        figs["reliability.png"] = reliability_figure(y_pa[lab], parcels["prob"].to_numpy(float)[lab])
        truth = np.where(y_pa[lab] == 1, "counterfeit", "genuine")
        pred = np.where(parcels["prob"].to_numpy(float)[lab] >= 0.5, "counterfeit", "genuine")
        figs["confusion_counterfeit.png"] = confusion_figure(
            list(truth), list(pred), ["genuine", "counterfeit"], "Parcels at p=0.5"
        )
    if "brand_pred" in parcels and (parcels["brand"] != "").any():
        known = parcels[parcels["brand"] != ""]
        figs["confusion_brand.png"] = confusion_figure(
            list(known["brand"]), list(known["brand_pred"]), brands, "Brand (parcels)"
        )
    if table is not None and not table.empty:
        figs["recall_by_view_defect.png"] = recall_figure(table)
    return figs
