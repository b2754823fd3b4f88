"""The built-in default data: generate the synthetic parcels once, reuse while they match."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from train.config import SyntheticConfig


def _wanted(cfg: SyntheticConfig) -> dict:
    from train.synthetic.generate import FORMAT_VERSION

    return {
        "format_version": FORMAT_VERSION,
        "n_parcels": cfg.parcels,
        "seed": cfg.seed,
        "difficulty": cfg.difficulty,
        "image_size": cfg.image_size,
        "twins": cfg.twins,
    }


# Keys that sets generated before them lack, with the value those sets were made with.
_BEFORE = {"twins": False}


def matches(out_dir: Path, cfg: SyntheticConfig) -> bool:
    info_file, manifest = out_dir / "generator.json", out_dir / "manifest.csv"
    if not (info_file.is_file() and manifest.is_file()):
        return False
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError:
        return False
    args = info.get("args", info)
    return all(_same(args.get(k, _BEFORE.get(k)), v) for k, v in _wanted(cfg).items())


def _same(a, b) -> bool:
    """Equal as numbers when both read as numbers ("1" == 1.0), else as strings."""
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def ensure_synthetic(cfg: SyntheticConfig) -> Path:
    """Manifest of the synthetic set described by `cfg`, generating it if absent or different."""
    from train.synthetic import generate_dataset

    difficulty: str | float = cfg.difficulty
    with contextlib.suppress(ValueError):
        difficulty = float(cfg.difficulty)
    out_dir = Path(cfg.out_dir)
    if matches(out_dir, cfg):
        return out_dir / "manifest.csv"
    print(f"generating {cfg.parcels} synthetic parcels into {out_dir} ...")
    return Path(
        generate_dataset(
            out_dir,
            n_parcels=cfg.parcels,
            seed=cfg.seed,
            difficulty=difficulty,
            image_size=cfg.image_size,
            twins=cfg.twins,
        )
    )
