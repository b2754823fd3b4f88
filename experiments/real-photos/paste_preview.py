"""Contact sheet of what `train.paste` does to brand photos: each studio photo (top) next to
three seeded draws of the cut-and-paste (below), and a red corner where no plain backdrop was
found (the photo passes unchanged).

python experiments/real-photos/paste_preview.py ../shared/data/sneaker-brands/labels.csv \
    experiments/real-photos/paste-preview.jpg
"""

from __future__ import annotations

import argparse
import csv
import random
from pathlib import Path

from PIL import Image

from infer.preprocess import letterbox
from train.composite import PasteOnSurface, backdrop_mask

KINDS = ("catalog-240px", "product-shot", "thumbnail")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with open(args.manifest, newline="") as f:
        rows = list(csv.DictReader(f))
    pick = random.Random(args.seed)
    photos = [r for kind in KINDS for r in pick.sample([r for r in rows if r.get("kind") == kind],
                                                       args.per_kind)]
    paste, s = PasteOnSurface(p=1.0), args.size
    sheet = Image.new("RGB", (len(photos) * s, 4 * s), "white")
    for col, row in enumerate(photos):
        img = letterbox(Image.open(args.manifest.parent / row["path"]).convert("RGB"), 224)
        tiles = [img]
        for draw in range(3):
            paste.set_random_seed(args.seed * 1000 + col * 10 + draw)
            tiles.append(paste(image=img)["image"])
        for r, tile in enumerate(tiles):
            sheet.paste(Image.fromarray(tile).resize((s, s)), (col * s, r * s))
        if backdrop_mask(img) is None:
            sheet.paste(Image.new("RGB", (s // 8, s // 8), "red"), (col * s, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=85) if args.out.suffix.lower() in (".jpg", ".jpeg") else sheet.save(args.out)
    print(f"wrote {args.out} ({len(photos)} photos: {', '.join(KINDS)})")


if __name__ == "__main__":
    main()
