"""python -m train.synthetic --out datasets/synthetic --parcels 800 --seed 0 --difficulty mixed"""

from __future__ import annotations

import argparse

from .generate import generate_dataset


def _difficulty(value: str):
    try:
        return float(value)
    except ValueError:
        return value


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m train.synthetic", description=__doc__)
    ap.add_argument("--out", default="datasets/synthetic")
    ap.add_argument("--parcels", type=int, default=800)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--difficulty", type=_difficulty, default="mixed",
                    help="easy | hard | mixed, or a defect strength in [0, 1]")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--counterfeit-share", type=float, default=0.5)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--views", nargs="+", default=None,
                    help="photograph every parcel in exactly these views, e.g. --views label box")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    a = ap.parse_args(argv)
    manifest = generate_dataset(a.out, n_parcels=a.parcels, seed=a.seed, difficulty=a.difficulty,
                                image_size=a.image_size, counterfeit_share=a.counterfeit_share,
                                workers=a.workers, progress=not a.quiet, views=a.views)
    print(manifest)


if __name__ == "__main__":
    main()
