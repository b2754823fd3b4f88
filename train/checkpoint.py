"""Epoch checkpoints and resume: `<output_dir>/checkpoints/last.pt` and `best.pt`; for a
cross-validation run, `<output_dir>/cv_state.json` (the folds it finished).

A checkpoint holds everything the next epoch depends on (weights, optimizer, scheduler, every
random generator, the epoch, the best epoch so far, the MLflow run id), so a run killed at any
moment continues as if nothing happened. Files are written to a temporary name and renamed: a
kill during the write leaves the previous checkpoint intact. Only tensors, numbers and strings are
stored, so `torch.load(weights_only=True)` reads them without executing anything.

A cross-validation run keeps no epoch checkpoints (its folds would need one set each); it
keeps, after each fold, that fold's test metrics in `cv_state.json` beside the fold's test
tables, so a resumed run trains only the folds not yet finished. A fold cut short starts again.

torch is imported inside the functions that need it: `python -m train` checks a `resume=`
before it imports torch, timm and MLflow (~10 s), so a wrong path is reported at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np

from train.config import flatten, to_dict

FOLDER = "checkpoints"
LAST = "last.pt"
BEST = "best.pt"
CV_STATE = "cv_state.json"
# Keys that may differ between a run and its resumption. `data.run_folds`: a cross-validation
# run started on its first folds (a quick look) can be resumed to finish the rest.
RESUMABLE_DIFFERENCES = {"resume", "data.run_folds"}
# Keys added since older checkpoints were written, with the values that reproduce what those runs
# did (ANY: the key means nothing then). A checkpoint that lacks such a key matches only these
# values, so a run is finished as it was begun: the text-leak guard off, for example.
ANY = object()
ADDED_KEYS = {"data.drop_text_leaks": (False, "False"), "data.text_cache": ANY}  # fingerprints hold text


class ResumeError(RuntimeError):
    pass


def folder(output_dir: str | Path) -> Path:
    return Path(output_dir) / FOLDER


def save_atomic(obj: dict, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """`mmap=True`: tensors are mapped, not read (for a look at the config only)."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except FileNotFoundError as exc:
        raise ResumeError(f"{path}: checkpoint not found") from exc
    except Exception as exc:  # a truncated or foreign file: name it rather than crash deep inside
        raise ResumeError(f"{path}: not a readable checkpoint ({exc})") from exc


def rng_state() -> dict[str, Any]:
    """The global generators. An epoch reseeds what it uses (train.distributed.seed_epoch), so
    these matter only for code outside the epochs; kept so a resume restores them all."""
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def config_fingerprint(cfg) -> dict[str, str]:
    return {k: str(v) for k, v in flatten(to_dict(cfg)).items() if k not in RESUMABLE_DIFFERENCES}


def locate(cfg, quiet: bool = False) -> Path | None:
    """The checkpoint (or, with `data.folds`, the cross-validation state) `cfg.resume` asks for:
    None for a fresh run ("" or "auto" without one)."""
    if not cfg.resume:
        return None
    cv = bool(cfg.data.folds)
    what = "cross-validation state" if cv else "checkpoint"
    if cfg.resume == "auto":
        path = Path(cfg.output_dir) / CV_STATE if cv else folder(cfg.output_dir) / LAST
        if not path.is_file():
            if not quiet:
                print(f"resume=auto: no {what} at {path}; starting a fresh run")
            return None
        return path
    path = Path(cfg.resume)
    if path.is_dir():
        path = path / (CV_STATE if cv else LAST)
    if not path.is_file():
        raise ResumeError(f"resume={cfg.resume}: no {what} at {path}")
    return path


def check_same_config(state: dict, cfg, path: Path) -> None:
    """Resuming with another config would silently mix two experiments in one run."""
    saved, now = state["config"], config_fingerprint(cfg)
    # A checkpoint written before a key became resumable still holds it: not a difference.
    diff = sorted(k for k in saved.keys() | now.keys()
                  if k not in RESUMABLE_DIFFERENCES and saved.get(k) != now.get(k)
                  and not _added_since(k, saved, now))
    if diff:
        lines = "\n".join(f"  {k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in diff[:20])
        raise ResumeError(f"{path}: written with a different config; resume with the same one\n{lines}")


def _added_since(key: str, saved: dict, now: dict) -> bool:
    neutral = ADDED_KEYS.get(key)
    return neutral is not None and key not in saved and (neutral is ANY or now.get(key) in neutral)


def check_resumable(cfg) -> None:
    """What `resume=` asks for exists and was written with this config: checked by
    `python -m train` before the heavy imports. Without a checkpoint to read, torch is not
    imported at all. The tensors are mapped, not read: the run reads them once, when it resumes."""
    path = locate(cfg, quiet=True)
    if path is not None:
        state = load_cv_state(path) if cfg.data.folds else load(path, mmap=True)
        check_same_config(state, cfg, path)


def folds_digest(paths, folds) -> str:
    """What the folds hold (photo path -> fold, copies kept together included): a resumed
    cross-validation must test each fold on the photos it tested before."""
    lines = sorted(f"{p}\t{f}" for p, f in zip(paths, folds, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def new_cv_state(cfg, run_id: str | None, digest: str) -> dict[str, Any]:
    return {"run_id": run_id, "config": config_fingerprint(cfg), "folds_digest": digest,
            "finished": {}, "running": None}


def load_cv_state(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ResumeError(f"{path}: not a readable cross-validation state ({exc})") from exc
    missing = {"config", "folds_digest", "finished"} - set(state)
    if missing:
        raise ResumeError(f"{path}: not a cross-validation state (no {', '.join(sorted(missing))})")
    return state


def save_cv_state(state: dict, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(state, indent=2, default=float))
    os.replace(tmp, path)


def check_same_folds(state: dict, digest: str, path: Path) -> None:
    if state["folds_digest"] != digest:
        raise ResumeError(f"{path}: the folds are not the ones this run started with (a manifest "
                          "or its photos changed since); start a new output_dir")
