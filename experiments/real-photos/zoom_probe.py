"""Would a trained model read brands better from a zoomed view? A diagnostic, not a feature.

For each photo of a held-out manifest, the packaged model scores the whole photo (as serving
does) and zoomed views cut from the original file, then compares accuracy per `kind`:

- `crops`: the four corner crops and the centre crop, each 2/3 of the photo's sides; the brand is
  the mean of the six views' probabilities, the counterfeit score the mean of their logits.
- `cam`: one crop around where the brand head looks (its class activation map for the top brand,
  cells at >= half the maximum, one cell of margin); mean of the two views' probabilities.

    python experiments/real-photos/zoom_probe.py runs/real-photos/final/model \
        runs/real-photos/final/holdout/sneaker-brands.csv runs/real-photos/final/holdout/aj1-af1-photos.csv

Thumbnails are scored on every 4th photo to keep the run short.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infer.model import softmax  # noqa: E402
from infer.package import load_package  # noqa: E402
from infer.preprocess import letterbox, normalize  # noqa: E402


def forward(net, arrays: np.ndarray, batch: int = 32):
    """Counterfeit logits, brand logits and the top brand's activation map per photo."""
    cf, brand, cam = [], [], []
    with torch.inference_mode():
        for start in range(0, len(arrays), batch):
            x = normalize(arrays[start : start + batch], net.spec.mean, net.spec.std)
            fmap = net.backbone.forward_features(x)
            pooled = net.backbone.forward_head(fmap)
            logits = net.brand_head(pooled)
            weights = net.brand_head.weight[logits.argmax(1)]
            cf.append(net.counterfeit_head(pooled).squeeze(-1).numpy())
            brand.append(logits.numpy())
            cam.append(torch.einsum("nchw,nc->nhw", fmap, weights).numpy())
    return np.concatenate(cf), np.concatenate(brand), np.concatenate(cam)


def corner_and_centre_crops(img: Image.Image) -> list[tuple[int, int, int, int]]:
    w, h = img.size
    cw, ch = int(w * 2 / 3), int(h * 2 / 3)
    x, y = (w - cw) // 2, (h - ch) // 2
    return [(0, 0, cw, ch), (w - cw, 0, w, ch), (0, h - ch, cw, h), (w - cw, h - ch, w, h),
            (x, y, x + cw, y + ch)]


def cam_box(img: Image.Image, cam: np.ndarray, size: int):
    """The photo region (original pixels) where the map is at least half its maximum."""
    w, h = img.size
    scale = size / max(w, h)
    nw, nh = round(w * scale), round(h * scale)
    top, left = (size - nh) // 2, (size - nw) // 2
    act = np.maximum(cam, 0)
    if act.max() <= 0:
        return None
    ys, xs = np.where(act >= 0.5 * act.max())
    cell = size / cam.shape[0]
    x0, x1 = np.clip([(xs.min() - 1) * cell, (xs.max() + 2) * cell], left, left + nw)
    y0, y1 = np.clip([(ys.min() - 1) * cell, (ys.max() + 2) * cell], top, top + nh)
    box = ((x0 - left) / scale, (y0 - top) / scale, (x1 - left) / scale, (y1 - top) / scale)
    if (box[2] - box[0]) * (box[3] - box[1]) >= 0.8 * w * h:
        return None  # the whole photo already: nothing to zoom into
    return tuple(int(v) for v in box)


def probe(net, manifest: Path) -> None:
    size = net.spec.image_size
    df = pd.read_csv(manifest)
    if "kind" not in df or df["kind"].isna().all():
        df["kind"] = "all"
    df = df[(df["kind"] != "thumbnail") | (np.arange(len(df)) % 4 == 0)].reset_index(drop=True)
    kinds = df["kind"].to_numpy()
    imgs = [ImageOps.exif_transpose(Image.open(p)).convert("RGB") for p in df["path"]]
    full = np.stack([letterbox(im, size) for im in imgs])
    cf0, br0, cams = forward(net, full)
    crops = np.stack([letterbox(im.crop(b), size) for im in imgs for b in corner_and_centre_crops(im)])
    cf_c, br_c, _ = forward(net, crops)
    boxes = [cam_box(im, c, size) for im, c in zip(imgs, cams, strict=True)]
    zoomed = np.stack([letterbox(im.crop(b) if b else im, size) for im, b in zip(imgs, boxes, strict=True)])
    cf_z, br_z, _ = forward(net, zoomed)

    p_full = softmax(br0)
    p_crops = (p_full + softmax(br_c).reshape(len(df), 5, -1).sum(1)) / 6
    p_cam = (p_full + softmax(br_z)) / 2
    brands = np.array(net.spec.brands)
    truth = df["brand"].fillna("").to_numpy()
    for kind in sorted(set(kinds)):
        rows = (kinds == kind) & (truth != "")
        if not rows.any():
            continue
        acc = {name: float((brands[p[rows].argmax(1)] == truth[rows]).mean())
               for name, p in (("full", p_full), ("crops", p_crops), ("cam", p_cam))}
        print(f"{manifest.name} {kind} ({rows.sum()} photos) brand accuracy: "
              + "  ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    if "label" in df and df["label"].isin(["counterfeit", "genuine"]).any():
        rows = df["label"].isin(["counterfeit", "genuine"]).to_numpy()
        y = (df["label"] == "counterfeit").to_numpy()[rows]
        cf_crops = (cf0 + cf_c.reshape(len(df), 5).sum(1)) / 6
        print(f"{manifest.name} counterfeit photo AUROC: full {roc_auc_score(y, cf0[rows]):.3f}  "
              f"crops {roc_auc_score(y, cf_crops[rows]):.3f}  cam {roc_auc_score(y, (cf0 + cf_z)[rows]):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a model package folder")
    parser.add_argument("manifests", nargs="+", type=Path)
    args = parser.parse_args()
    net, _ = load_package(args.model)
    net.eval()
    for manifest in args.manifests:
        probe(net, manifest)


if __name__ == "__main__":
    main()
