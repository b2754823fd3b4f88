"""Does the brand head answer the training set's brand mix rather than the photo?

For a finished single-split run: rebuild its splits from `config.yaml`, compute the brand prior
the training draws carried (sampler weights x brand-labelled rows), score the run's validation
and test photos with its saved model, and print brand accuracy and balanced accuracy (mean
per-brand recall) with the raw logits and with the log prior subtracted (post-hoc logit
adjustment, Menon et al. 2021: the Bayes rule for a uniform brand prior).

    python experiments/real-photos/brand_prior_probe.py runs/real-photos/brands-in-the-wild-long

Validation is where a decision is made; test is printed beside it, not used to choose.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infer.model import predict_arrays  # noqa: E402
from infer.package import load_package  # noqa: E402
from train.config import load_config  # noqa: E402
from train.data import (  # noqa: E402
    assign_splits,
    brand_class_weights,
    decode_all,
    load_sources,
    sample_weights,
    trains_brand,
)
from train.prepare import gather_sources, make_splits  # noqa: E402


def training_prior(cfg, train: pd.DataFrame, brands: list[str]) -> np.ndarray:
    """Share of each brand among the brand-labelled training draws, after the loss weights of
    `train.brand_balance` (which, if they worked as intended, would leave it uniform)."""
    train = train.reset_index(drop=True)
    weighted = train["source"].nunique() > 1 or cfg.train.samples_per_epoch
    w = sample_weights(train).numpy() if weighted else np.full(len(train), 1 / len(train))
    has = trains_brand(train, cfg.data.brand_sources).to_numpy() & train["brand"].isin(brands).to_numpy()
    mass = np.array([w[has & (train["brand"] == b).to_numpy()].sum() for b in brands])
    if cfg.train.brand_balance:
        mass = mass * brand_class_weights(train[has], brands, w[has]).numpy()
    return mass / mass.sum()


def scores(logits: np.ndarray, truth: pd.Series, brands: list[str]) -> dict:
    pred = np.asarray(brands)[logits.argmax(1)]
    truth = truth.to_numpy()
    present = [b for b in brands if (truth == b).any()]
    recall = {b: float((pred[truth == b] == b).mean()) for b in present}
    return {"n": int(len(truth)), "accuracy": float((pred == truth).mean()),
            "balanced_accuracy": float(np.mean(list(recall.values()))),
            "recall": {b: round(r, 3) for b, r in recall.items()}}


def probe(run_dir: Path) -> dict:
    cfg = load_config(run_dir / "config.yaml")
    net, _ = load_package(run_dir / "model")
    brands = net.spec.brands
    sources, _ = gather_sources(cfg)
    table = load_sources(sources)
    split = assign_splits(table, cfg.data.eval_sources, cfg.data.val_fraction, cfg.data.test_fraction,
                          cfg.data.split_seed)
    splits = make_splits(cfg, table, split)
    # Since the copy check (train/copies.py) a run's split also merges copied photos' parcels,
    # which rebuilding from the config misses: take validation and test from the run's own lists.
    held = {}
    for name in ("val", "test"):
        if (run_dir / f"{name}_parcels.csv").exists():
            held[name] = set(pd.read_csv(run_dir / f"{name}_parcels.csv")["parcel_id"])
            splits[name] = table[table["parcel_id"].isin(held[name])]
    if held:
        splits["train"] = splits["train"][~splits["train"]["parcel_id"].isin(set().union(*held.values()))]
    prior = training_prior(cfg, splits["train"], brands)
    out = {"run": str(run_dir), "prior": {b: round(float(p), 4) for b, p in zip(brands, prior, strict=True)}}
    log_prior = np.log(np.clip(prior, 1e-6, None))
    for name in ("val", "test"):
        part = splits[name]
        part = part[part["brand"].isin(brands)]
        images, errors = decode_all(list(part["path"]), net.spec.image_size, desc=f"decode {name}")
        ok = np.array([e is None for e in errors])
        part, images = part[ok], images[ok]
        _, logits = predict_arrays(net, images, 64, progress=name)
        kinds = part["kind"].fillna("") if "kind" in part else pd.Series("", index=part.index)
        for kind in sorted(set(kinds)) + ["all"]:
            rows = (kinds == kind).to_numpy() if kind != "all" else np.ones(len(part), bool)
            if kind != "all" and rows.sum() == len(part):
                continue
            key = f"{name}/{kind or 'no-kind'}"
            out[key] = {"raw": scores(logits[rows], part["brand"][rows], brands),
                        "adjusted": scores(logits[rows] - log_prior, part["brand"][rows], brands)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    for run_dir in ap.parse_args().runs:
        result = probe(run_dir)
        print(json.dumps(result, indent=1))
        for key, value in result.items():
            if isinstance(value, dict) and "raw" in value:
                r, a = value["raw"], value["adjusted"]
                print(f"{key:32s} n={r['n']:5d}  acc {r['accuracy']:.3f} -> {a['accuracy']:.3f}   "
                      f"balanced {r['balanced_accuracy']:.3f} -> {a['balanced_accuracy']:.3f}")


if __name__ == "__main__":
    main()
