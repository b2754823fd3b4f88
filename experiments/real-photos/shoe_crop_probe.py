"""Would the brand head read street photos better from a crop around the shoe? A probe.

(Written as a probe; its locator and box rules now live in `infer/shoe_crop.py`, which it
imports, and `python -m train.evaluate --shoe-crop` measures the same thing through serving.)

The zoom probe (`zoom_probe.py`) found that zooming in lifts street photos (the shoe is small there) and
costs thumbnails and product shots (the shoe already fills them, and a crop of a 140 px
thumbnail is an upsampled blur). Its crop around the brand head's own activation map gave
nothing. This probe finds the shoe with a network that was never fine-tuned on our data: the
ImageNet EfficientNet-Lite0 of the wheel, whose classifier knows footwear (running shoe, sandal,
clog, loafer, cowboy boot). Its classifier is applied to every cell of its 7x7 feature map; a
cell's shoe score is the softmax mass of the footwear classes there.

Fixed before any number was seen (no parameter is tuned on the photos scored here):
- the box holds the cells scoring at least half the best cell, plus one cell of margin;
- the box is grown about its centre to at least the model's input size in photo pixels a side
  (224 for Lite0; or the photo's side), so a crop is never upsampled beyond the model's input;
- no crop where the box covers 80% of the photo or more (the shoe fills it already), nor where
  no cell's footwear mass reaches 0.5 (no shoe found: on a dozen aj1-af1 photos, looked at
  before this probe scored anything, such maps pointed at a sock or a stool);
- the brand is read from the mean of the whole photo's and the crop's probabilities.

For each run it scores the run's own validation photos (`val_parcels.csv`: studio photos, where
a decision would be made) and test photos (`test_parcels.csv`), whole photo against whole+crop,
per kind. Averaging over runs (equal weights) is printed as well.

    python experiments/real-photos/shoe_crop_probe.py runs/real-photos/brands-in-the-wild-long-rerun \
        runs/real-photos/brands-in-the-wild-long-seed1 --out runs/shoe-crop-probe
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from infer.model import predict_arrays  # noqa: E402
from infer.package import load_package  # noqa: E402
from infer.photos import PhotoError, load_photo  # noqa: E402
from infer.preprocess import letterbox  # noqa: E402
from infer.shoe_crop import LOCATOR_SIZE, footwear_maps, shoe_box  # noqa: E402
from infer.spec import softmax  # noqa: E402
from train.config import load_config, to_dict  # noqa: E402
from train.data import load_sources  # noqa: E402
from train.prepare import gather_sources  # noqa: E402


def part_photos(run: Path, part: str) -> pd.DataFrame:
    cfg = load_config(run / "config.yaml")
    sources, _ = gather_sources(cfg)
    table = load_sources(sources)
    ids = set(pd.read_csv(run / f"{part}_parcels.csv")["parcel_id"])
    rows = table[table["parcel_id"].isin(ids) & table["brand"].fillna("").ne("")]
    return rows.reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, help="folder for per-photo boxes and probabilities")
    ap.add_argument("--parts", nargs="+", default=["val", "test"])
    ap.add_argument("--locator-size", type=int, default=LOCATOR_SIZE,
                    help="input size of the ImageNet locator (locator_probe.py compares them)")
    args = ap.parse_args()
    cfgs = [load_config(r / "config.yaml") for r in args.runs]
    if any(to_dict(c)["data"] != to_dict(cfgs[0])["data"] for c in cfgs[1:]):
        sys.exit("the runs' data sections differ, so their validation and test photos do too")
    nets = [load_package(r / "model")[0] for r in args.runs]
    brands = np.asarray(nets[0].spec.brands)
    size = nets[0].spec.image_size
    for part in args.parts:
        df = part_photos(args.runs[0], part)
        whole, crops, boxes, keep = [], [], [], []
        for path in tqdm(df["path"], desc=f"{part}: decode and locate", unit="photo"):
            try:
                # The whole photo as serving decodes it (JPEG draft mode); the crop from every pixel.
                served = load_photo(path, min_size=size)
                img = load_photo(path)
            except PhotoError as exc:
                print(f"skipped: {exc}", file=sys.stderr)
                keep.append(False)
                continue
            keep.append(True)
            whole.append(letterbox(served, size))
            cells = footwear_maps(letterbox(img, args.locator_size)[None])[0]
            # As serving does: the crop is at least the model's input size in photo pixels.
            box = shoe_box(img.size, cells, size, locator_size=args.locator_size)
            boxes.append(box)
            crops.append(letterbox(img.crop(box) if box else img, size))
        df = df[np.array(keep)].reset_index(drop=True)
        whole, crops = np.stack(whole), np.stack(crops)
        probs = {"whole": [], "whole+crop": []}
        for net, run in zip(nets, args.runs, strict=True):
            pw = softmax(predict_arrays(net, whole, 64, progress=f"{part}: {run.name} whole")[1])
            pc = softmax(predict_arrays(net, crops, 64, progress=f"{part}: {run.name} crop")[1])
            probs["whole"].append(pw)
            probs["whole+crop"].append((pw + pc) / 2)
        names = [r.name for r in args.runs] + (["average of runs"] if len(args.runs) > 1 else [])
        for mode in probs:
            if len(args.runs) > 1:
                probs[mode].append(np.mean(probs[mode], axis=0))
        kinds = df["kind"].fillna("").to_numpy() if "kind" in df else np.full(len(df), "")
        truth = df["brand"].to_numpy()
        cropped = np.array([b is not None for b in boxes])
        for kind in sorted(set(kinds)) + ["all"]:
            rows = kinds == kind if kind != "all" else np.ones(len(df), bool)
            for i, name in enumerate(names):
                acc = {m: float((brands[probs[m][i][rows].argmax(1)] == truth[rows]).mean()) for m in probs}
                print(f"{part}/{kind or '-':14s} n={rows.sum():4d} cropped {cropped[rows].mean():.2f}  {name:40s} "
                      + "  ".join(f"{m} {a:.3f} ({round(a * rows.sum())})" for m, a in acc.items()))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            rec = df[["path", "brand"] + (["kind"] if "kind" in df else [])].copy()
            rec["box"] = [" ".join(map(str, b)) if b else "" for b in boxes]
            for i, name in enumerate(names):
                for m in probs:
                    rec[f"{name}:{m}"] = brands[probs[m][i].argmax(1)]
            rec.to_csv(args.out / f"{part}.csv", index=False)


if __name__ == "__main__":
    main()
