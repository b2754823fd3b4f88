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
        "views": None,
    }


# Keys that sets generated before them lack, with the value those sets were made with.
_BEFORE = {"twins": False, "views": None}

CLOSEUP_VIEWS = ("label", "box")
# The close-up set draws other parcels than the main set: its seed is offset by this.
CLOSEUP_SEED_OFFSET = 100_000


def matches(out_dir: Path, cfg: SyntheticConfig, wanted: dict | None = None) -> bool:
    info_file, manifest = out_dir / "generator.json", out_dir / "manifest.csv"
    if not (info_file.is_file() and manifest.is_file()):
        return False
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError:
        return False
    args = info.get("args", info)
    wanted = wanted or _wanted(cfg)
    return all(_same(args.get(k, _BEFORE.get(k)), v) for k, v in wanted.items())


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


def ensure_closeups(cfg: SyntheticConfig) -> Path | None:
    """Manifest of the training-only close-up set (`cfg.closeup_parcels` more parcels, only their
    label and box photos, in `<out_dir>-closeups`), generating it if absent or different; None
    when `closeup_parcels` is 0."""
    from train.synthetic import generate_dataset
    from train.synthetic.generate import FORMAT_VERSION

    if cfg.closeup_parcels <= 0:
        return None
    out_dir = Path(f"{cfg.out_dir}-closeups")
    seed = cfg.seed + CLOSEUP_SEED_OFFSET
    wanted = {"format_version": FORMAT_VERSION, "n_parcels": cfg.closeup_parcels, "seed": seed,
              "difficulty": cfg.difficulty, "image_size": cfg.image_size, "twins": False,
              "views": list(CLOSEUP_VIEWS)}
    if matches(out_dir, cfg, wanted):
        return out_dir / "manifest.csv"
    print(f"generating {cfg.closeup_parcels} close-up-only synthetic parcels into {out_dir} ...")
    difficulty: str | float = cfg.difficulty
    with contextlib.suppress(ValueError):
        difficulty = float(cfg.difficulty)
    return Path(generate_dataset(out_dir, n_parcels=cfg.closeup_parcels, seed=seed,
                                 difficulty=difficulty, image_size=cfg.image_size,
                                 views=CLOSEUP_VIEWS))
