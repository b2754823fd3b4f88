"""Are photos of one shoe filed under two listings? A leakage check for grouped folds.

The aj1-af1 export had been augmented before it was collected (rotations and shears, see the
shared README), so a photo and its augmented copy can carry different `parcel_id`s, and a split
by `parcel_id` would then put one shoe on both sides. This finds such pairs with two signals that
tolerate rotation, shear, crop and recompression to different degrees:
- cosine similarity of ImageNet features (EfficientNet-Lite0 from the wheel, letterboxed 224 px,
  pooled features: what the model starts from), with its horizontal mirror averaged in;
- the correlation of the 32x32 grey signatures that training compares (`train/copies.py`).
It prints how many cross-listing pairs pass each similarity and how many of them disagree on the
label (the brand, for brand-only manifests), draws the most similar pairs side by side for a
person to look at, and writes a CSV of the pairs above `--threshold`. (Training finds exact
copies by itself, `train/copies.py`; this probe is for the looser ones: rotated, cropped.)

    python experiments/real-photos/near_duplicates.py ../shared/data/aj1-af1-photos/labels.csv \
        --out runs/near-duplicates/aj1-af1
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

from infer.model import create_inspector_net
from infer.photos import load_photo
from infer.preprocess import normalize
from train.copies import signatures
from train.data import decode_all


def embed(paths: list[Path], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    net = create_inspector_net(brands=["x"], weights="imagenet").eval()
    spec = net.spec
    images, _ = decode_all([str(p) for p in paths], 224, desc="decode")  # as training decodes
    feats = []
    for start in tqdm(range(0, len(paths), batch), desc="embedding", unit="batch"):
        x = normalize(images[start : start + batch], spec.mean, spec.std)
        with torch.inference_mode():
            f = net.backbone.forward_head(net.backbone.forward_features(x), pre_logits=True)
            f = f + net.backbone.forward_head(
                net.backbone.forward_features(x.flip(-1)), pre_logits=True
            )
        feats.append(torch.nn.functional.normalize(f, dim=1).numpy())
    return np.concatenate(feats), signatures(images)[0]  # what training compares (train/copies.py)


def sheet(rows: list[dict], root: Path, out: Path, size: int = 160) -> None:
    """Pairs side by side, similarity and labels written under each pair."""
    canvas = Image.new("RGB", (2 * size + 10, len(rows) * (size + 18)), "white")
    draw = ImageDraw.Draw(canvas)
    for i, row in enumerate(rows):
        y = i * (size + 18)
        for j, key in enumerate(("path_a", "path_b")):
            img = load_photo(root / row[key]).convert("RGB")
            img.thumbnail((size, size))
            canvas.paste(img, (j * (size + 10), y))
        draw.text(
            (2, y + size + 2),
            f"cos {row['cosine']:.3f} thumb {row['thumb_corr']:.2f} "
            f"{row['label_a'][:4]}/{row['label_b'][:4]}",
            fill="black",
        )
    canvas.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threshold", type=float, default=0.95, help="cosine for the CSV")
    parser.add_argument("--show", type=int, default=24, help="pairs on the contact sheet")
    args = parser.parse_args()

    root = args.manifest.parent
    rows = list(csv.DictReader(args.manifest.open(newline="")))
    groups = [r.get("parcel_id") or r["path"] for r in rows]
    feats, thumbs = embed([root / r["path"] for r in rows])
    cos = feats @ feats.T
    corr = thumbs @ thumbs.T
    same = np.equal.outer(np.array(groups), np.array(groups))
    cos[same] = -1.0  # pairs inside a listing are allowed to look alike
    iu = np.triu_indices(len(rows), k=1)
    order = np.argsort(-cos[iu])
    pairs = []
    for k in order:
        a, b = iu[0][k], iu[1][k]
        pairs.append(
            {
                "path_a": rows[a]["path"],
                "path_b": rows[b]["path"],
                "parcel_a": groups[a],
                "parcel_b": groups[b],
                "label_a": rows[a].get("label") or rows[a].get("brand", ""),
                "label_b": rows[b].get("label") or rows[b].get("brand", ""),
                "cosine": float(cos[a, b]),
                "thumb_corr": float(corr[a, b]),
            }
        )
        if pairs[-1]["cosine"] < min(args.threshold, 0.9) and len(pairs) >= args.show:
            break
    args.out.mkdir(parents=True, exist_ok=True)
    above = [p for p in pairs if p["cosine"] >= args.threshold]
    with (args.out / "pairs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(pairs[0]))
        writer.writeheader()
        writer.writerows(above)
    sheet(pairs[: args.show], root, args.out / "top-pairs.png")
    nearest = cos.max(axis=1)
    print(f"{len(rows)} photos, {len(set(groups))} listings")
    for t in (0.99, 0.98, 0.97, 0.95, 0.93, 0.90):
        n_pairs = int((cos[iu] >= t).sum())
        n_photos = int((nearest >= t).sum())
        mixed = sum(1 for p in pairs if p["cosine"] >= t and p["label_a"] != p["label_b"])
        print(f"cosine >= {t}: {n_pairs} cross-listing pairs, {n_photos} photos, {mixed} of them disagree on the label")
    print(f"pairs >= {args.threshold}: {args.out / 'pairs.csv'}; sheet: {args.out / 'top-pairs.png'}")


if __name__ == "__main__":
    main()
