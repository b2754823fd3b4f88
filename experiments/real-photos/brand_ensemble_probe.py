"""Do two brand runs that make different mistakes read brands better together?

For finished single-split runs with the same data section: score each run's validation and
test photos with its saved model, then average the runs' brand probabilities (softmax of the
logits, equal weights: nothing to tune) and print accuracy per run and for the average, per kind
and per brand. The photos are those of the parcels each run wrote to `val_parcels.csv` and
`test_parcels.csv`, which must agree: rebuilding the split from the config would miss the copy
check's merges (train/copies.py) and put photos with a copy in training into validation.

    python experiments/real-photos/brand_ensemble_probe.py runs/real-photos/brands-in-the-wild-paste \
        runs/real-photos/brands-in-the-wild-long-rerun

Validation is where a decision is made; test is printed beside it, not used to choose.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from brand_prior_probe import scores  # noqa: E402

from infer.model import predict_arrays  # noqa: E402
from infer.package import load_package  # noqa: E402
from train.config import load_config, to_dict  # noqa: E402
from train.data import decode_all, load_sources  # noqa: E402
from train.prepare import gather_sources  # noqa: E402


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    runs = ap.parse_args().runs
    cfgs = [load_config(r / "config.yaml") for r in runs]
    if any(to_dict(c)["data"] != to_dict(cfgs[0])["data"] for c in cfgs[1:]):
        sys.exit("the runs' data sections differ, so their validation and test photos do too")
    nets = [load_package(r / "model")[0] for r in runs]
    brands = nets[0].spec.brands
    if any(n.spec.brands != brands or n.spec.image_size != nets[0].spec.image_size for n in nets):
        sys.exit("the runs' brand lists or input sizes differ")
    cfg = cfgs[0]
    sources, _ = gather_sources(cfg)
    table = load_sources(sources)
    names = [r.name for r in runs] + ["average"]
    for part_name in ("val", "test"):
        ids = [set(pd.read_csv(r / f"{part_name}_parcels.csv")["parcel_id"]) for r in runs]
        if any(i != ids[0] for i in ids[1:]):
            sys.exit(f"the runs' {part_name}_parcels.csv list different parcels")
        part = table[table["parcel_id"].isin(ids[0])]
        part = part[part["brand"].isin(brands)]
        images, errors = decode_all(list(part["path"]), nets[0].spec.image_size, desc=f"decode {part_name}")
        ok = np.array([e is None for e in errors])
        part, images = part[ok], images[ok]
        probs = [softmax(predict_arrays(n, images, 64, progress=f"{part_name}: {r.name}")[1])
                 for n, r in zip(nets, runs, strict=True)]
        probs.append(np.mean(probs, axis=0))
        kinds = part["kind"].fillna("") if "kind" in part else pd.Series("", index=part.index)
        for kind in sorted(set(kinds)) + ["all"]:
            rows = (kinds == kind).to_numpy() if kind != "all" else np.ones(len(part), bool)
            if kind != "all" and rows.sum() == len(part):
                continue
            for name, p in zip(names, probs, strict=True):
                s = scores(np.log(p[rows] + 1e-12), part["brand"][rows], brands)
                recall = " ".join(f"{b} {r:.2f}" for b, r in s["recall"].items())
                print(f"{part_name}/{kind or 'no-kind':14s} {name:32s} n={s['n']:4d} "
                      f"acc {s['accuracy']:.3f} ({round(s['accuracy'] * s['n'])})  {recall}")


if __name__ == "__main__":
    main()
