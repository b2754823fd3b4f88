"""The built-in default data: generate the synthetic parcels once, reuse while they match."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from train.config import SyntheticConfig

# Keys that sets generated before them lack, with the value those sets were made with.
_BEFORE = {"views": None}


def _args(cfg: SyntheticConfig) -> dict:
    """generate_dataset's arguments for the set `cfg` describes."""
    difficulty: str | float = cfg.difficulty
    with contextlib.suppress(ValueError):
        difficulty = float(cfg.difficulty)
    return dict(n_parcels=cfg.parcels, seed=cfg.seed, difficulty=difficulty,
                image_size=cfg.image_size, views=None)


def _wanted(args: dict) -> dict:
    from train.synthetic.generate import FORMAT_VERSION

    return {"format_version": FORMAT_VERSION, **args}


def matches(out_dir: Path, cfg: SyntheticConfig) -> bool:
    info_file, manifest = out_dir / "generator.json", out_dir / "manifest.csv"
    if not (info_file.is_file() and manifest.is_file()):
        return False
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError:
        return False
    stamp = info.get("args", info)
    if stamp.get("twins"):  # made by an earlier generator with fakes paired to twins
        return False
    return all(_same(stamp.get(k, _BEFORE.get(k)), v) for k, v in _wanted(_args(cfg)).items())


def _same(a, b) -> bool:
    """Equal as numbers when both read as numbers ("1" == 1.0), else as strings."""
    if isinstance(a, list) or isinstance(b, (list, tuple)):
        return list(a or []) == list(b or [])
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def ensure_synthetic(cfg: SyntheticConfig) -> Path:
    """Manifest of the synthetic set described by `cfg`, generating it if absent or different."""
    from train.synthetic import generate_dataset

    out_dir = Path(cfg.out_dir)
    if matches(out_dir, cfg):
        return out_dir / "manifest.csv"
    args = _args(cfg)
    print(f"generating {args['n_parcels']} synthetic parcels into {out_dir} ...")
    return Path(generate_dataset(out_dir, **args))
