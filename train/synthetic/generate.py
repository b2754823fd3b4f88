"""Generate a synthetic parcel dataset: images, manifest.csv, preview.png, generator.json.

Determinism: parcel i is drawn from SeedSequence(seed, spawn_key=(i,)) and photo k of it from
spawn_key=(i, k), so output bytes depend only on the arguments, never on `workers` or order.
"""

from __future__ import annotations

import csv
import json
import multiprocessing as mp
import os
import shutil
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import capture, closeups, shoe, sole
from .brands import BRANDS
from .defects import VIEWS
from .parcel import PRINTED_LINES, make_parcel
from .preview import contact_sheet

FORMAT_VERSION = 4  # bump whenever the same arguments would draw different images or columns
RENDER_SCALE = 1.5
COLUMNS = ("path", "label", "brand", "parcel_id", "view", "defects", "visible_defects", "strength",
           "printed", "printed_quads")
DIFFICULTIES = ("easy", "hard", "mixed")

RENDERERS = {
    "side": shoe.render_side,
    "sole": sole.render_sole,
    "logo": closeups.render_logo,
    "stitching": closeups.render_stitching,
    "label": closeups.render_label,
    "box": closeups.render_box,
}


def _check(difficulty, n_parcels, seed, image_size, counterfeit_share, views=None):
    if views is not None and (not views or set(views) - set(VIEWS)):
        raise ValueError(f"views must be a non-empty subset of {VIEWS}, got {views!r}")
    if isinstance(difficulty, str):
        if difficulty not in DIFFICULTIES:
            raise ValueError(f"difficulty must be one of {DIFFICULTIES} or a float in [0, 1]")
    elif not (isinstance(difficulty, (int, float)) and 0 <= difficulty <= 1):
        raise ValueError(f"difficulty must be one of {DIFFICULTIES} or a float in [0, 1]")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    if n_parcels < 1:
        raise ValueError("n_parcels must be >= 1")
    if image_size < 32:
        raise ValueError("image_size must be >= 32")
    if not 0 <= counterfeit_share <= 1:
        raise ValueError("counterfeit_share must be in [0, 1]")


def config(n_parcels, seed, difficulty, image_size, counterfeit_share, views=None) -> dict:
    """What generator.json records: everything that changes the output, nothing else."""
    return dict(format_version=FORMAT_VERSION, n_parcels=int(n_parcels), seed=int(seed),
                difficulty=difficulty if isinstance(difficulty, str) else float(difficulty),
                image_size=int(image_size), counterfeit_share=float(counterfeit_share),
                views=None if views is None else list(views))


def _assignments(n: int, seed: int, share: float):
    """Exact class and brand balance, shuffled by the seed."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    fake = np.zeros(n, bool)
    fake[: int(round(n * share))] = True
    names = list(BRANDS)
    brands = np.array([names[i % len(names)] for i in range(n)])
    return rng.permutation(fake), rng.permutation(brands)


def _jobs(n: int, seed: int, share: float) -> list[tuple]:
    """(index, counterfeit, brand) per parcel."""
    fakes, brands = _assignments(n, seed, share)
    return [(i, bool(fakes[i]), str(brands[i])) for i in range(n)]


def _parcel_job(job, seed, difficulty, image_size, out_dir: str, views=None) -> list[dict]:
    index, counterfeit, brand = job
    ss = np.random.SeedSequence(seed, spawn_key=(index,))
    rng = np.random.default_rng(ss)
    pid = f"syn{seed}-{index:05d}"
    p = make_parcel(index, pid, brand, bool(counterfeit), difficulty, rng)
    p.scene = capture.sample_scene(rng)
    if views is not None:
        # Only these photos, every one of them: the parcel itself is drawn as without `views`.
        p.views = tuple(views)
    folder = Path(out_dir) / "images" / pid
    folder.mkdir(parents=True, exist_ok=True)
    # Drawn larger, then downsampled: antialiased edges without antialiased drawing.
    render_size = int(round(image_size * RENDER_SCALE))
    rows = []
    for k, view in enumerate(p.views):
        prng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index, k + 1)))
        rgb, alpha, *extra = RENDERERS[view](p, prng, render_size)
        printed = p.printed(view)
        corners = np.concatenate([extra[0][k] for k in PRINTED_LINES]) if printed else None
        jpeg, corners = capture.photograph(rgb, alpha, view, p.scene, prng, image_size, corners)
        name = f"{k}_{view}.jpg"
        (folder / name).write_bytes(jpeg)
        rows.append(dict(
            path=f"images/{pid}/{name}", label=p.label, brand=p.brand.name, parcel_id=pid,
            view=view, defects=";".join(p.defects), visible_defects=";".join(p.visible(view)),
            strength="" if p.strength is None else f"{p.strength:.3f}",
            printed=";".join(printed),
            printed_quads="" if corners is None else ";".join(
                " ".join(f"{v:.1f}" for v in q.ravel()) for q in corners.reshape(-1, 4, 2)),
        ))
    return rows


def generate_dataset(out_dir, n_parcels: int = 800, seed: int = 0, difficulty="mixed",
                     image_size: int = 224, counterfeit_share: float = 0.5, workers=None,
                     progress: bool = True, views=None) -> Path:
    """Write a synthetic parcel dataset to `out_dir`; returns the manifest's path. `views`:
    photograph every parcel in exactly these views (e.g. the label and box close-ups) instead
    of the usual 3 to 6."""
    _check(difficulty, n_parcels, seed, image_size, counterfeit_share, views)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "generator.json"
    if stamp.exists():
        # Ours from an earlier run: clear it so no stale photo survives a smaller rerun.
        stamp.unlink()
        shutil.rmtree(out / "images", ignore_errors=True)
    cfg = config(n_parcels, seed, difficulty, image_size, counterfeit_share, views)
    jobs = _jobs(n_parcels, seed, counterfeit_share)
    work = partial(_parcel_job, seed=seed, difficulty=cfg["difficulty"], image_size=image_size,
                   out_dir=str(out), views=cfg["views"])
    workers = min(2, os.cpu_count() or 1) if workers is None else max(1, int(workers))
    bar = tqdm(total=n_parcels, desc="synthetic parcels", unit="parcel", disable=not progress)
    rows = []
    if workers == 1:
        for job in jobs:
            rows.extend(work(job))
            bar.update()
    else:
        # Workers must not call cv2.setNumThreads: after a fork from a process whose OpenCV
        # thread pool has run, that call deadlocks.
        with mp.get_context().Pool(workers) as pool:
            for r in pool.imap(work, jobs, chunksize=4):
                rows.extend(r)
                bar.update()
    bar.close()
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    contact_sheet(manifest, out / "preview.png")
    # Written last: its presence means the folder is complete for this configuration.
    stamp.write_text(json.dumps(cfg, indent=2) + "\n")
    return manifest
