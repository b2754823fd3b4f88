"""The built-in default data: generate the synthetic parcels once, reuse while they match."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from train.config import SyntheticConfig

# Keys that sets generated before them lack, with the value those sets were made with.
_BEFORE = {"twins": False, "views": None}

CLOSEUP_VIEWS = ("label", "box")
# The close-up set draws other parcels than the main set: its seed is offset by this.
CLOSEUP_SEED_OFFSET = 100_000


def _args(cfg: SyntheticConfig, closeups: bool = False) -> dict:
    """generate_dataset's arguments for the main set or, with `closeups`, the close-up set."""
    difficulty: str | float = cfg.difficulty
    with contextlib.suppress(ValueError):
        difficulty = float(cfg.difficulty)
    if closeups:
        return dict(n_parcels=cfg.closeup_parcels, seed=cfg.seed + CLOSEUP_SEED_OFFSET,
                    difficulty=difficulty, image_size=cfg.image_size, twins=False,
                    views=list(CLOSEUP_VIEWS))
    return dict(n_parcels=cfg.parcels, seed=cfg.seed, difficulty=difficulty,
                image_size=cfg.image_size, twins=cfg.twins, views=None)


def _wanted(args: dict) -> dict:
    from train.synthetic.generate import FORMAT_VERSION

    return {"format_version": FORMAT_VERSION, **args}


def matches(out_dir: Path, cfg: SyntheticConfig, closeups: bool = False) -> bool:
    info_file, manifest = out_dir / "generator.json", out_dir / "manifest.csv"
    if not (info_file.is_file() and manifest.is_file()):
        return False
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError:
        return False
    stamp = info.get("args", info)
    return all(_same(stamp.get(k, _BEFORE.get(k)), v) for k, v in _wanted(_args(cfg, closeups)).items())


def _same(a, b) -> bool:
    """Equal as numbers when both read as numbers ("1" == 1.0), else as strings."""
    if isinstance(a, list) or isinstance(b, (list, tuple)):
        return list(a or []) == list(b or [])
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _ensure(out_dir: Path, cfg: SyntheticConfig, closeups: bool, what: str) -> Path:
    from train.synthetic import generate_dataset

    if matches(out_dir, cfg, closeups):
        return out_dir / "manifest.csv"
    args = _args(cfg, closeups)
    print(f"generating {args['n_parcels']} {what} into {out_dir} ...")
    return Path(generate_dataset(out_dir, **args))


def ensure_synthetic(cfg: SyntheticConfig) -> Path:
    """Manifest of the synthetic set described by `cfg`, generating it if absent or different."""
    return _ensure(Path(cfg.out_dir), cfg, False, "synthetic parcels")


def ensure_closeups(cfg: SyntheticConfig) -> Path | None:
    """Manifest of the training-only close-up set (`cfg.closeup_parcels` more parcels, only their
    label and box photos, in `<out_dir>-closeups`), generating it if absent or different; None
    when `closeup_parcels` is 0."""
    if cfg.closeup_parcels <= 0:
        return None
    return _ensure(Path(f"{cfg.out_dir}-closeups"), cfg, True, "close-up-only synthetic parcels")
