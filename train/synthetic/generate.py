"""Generate a synthetic parcel dataset: images, manifest.csv, preview.png, generator.json.

Determinism: parcel i is drawn from SeedSequence(seed, spawn_key=(i,)) and photo k of it from
spawn_key=(i, k), so output bytes depend only on the arguments, never on `workers` or order.

Twins (`twins=True`): parcels come in pairs, a fake (index 2j) and the genuine shoe it copies
(index 2j + 1), drawn from the fake's seeds so that only the defects differ; both carry
`group` = the fake's parcel id, which keeps a pair on one side of every split. A model trained
on pairs cannot separate them by anything but the flaws (brand, size, codes, light are shared).
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


def _check(difficulty, n_parcels, seed, image_size, counterfeit_share, twins=False, views=None):
    if views is not None and (not views or set(views) - set(VIEWS)):
        raise ValueError(f"views must be a non-empty subset of {VIEWS}, got {views!r}")
    if twins and (n_parcels % 2 or counterfeit_share != 0.5):
        raise ValueError("twins pair every fake with its genuine twin: n_parcels must be even "
                         "and counterfeit_share 0.5")
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


def config(n_parcels, seed, difficulty, image_size, counterfeit_share, twins=False, views=None) -> dict:
    """What generator.json records: everything that changes the output, nothing else."""
    return dict(format_version=FORMAT_VERSION, n_parcels=int(n_parcels), seed=int(seed),
                difficulty=difficulty if isinstance(difficulty, str) else float(difficulty),
                image_size=int(image_size), counterfeit_share=float(counterfeit_share),
                twins=bool(twins), views=None if views is None else list(views))


def _assignments(n: int, seed: int, share: float):
    """Exact class and brand balance, shuffled by the seed."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    fake = np.zeros(n, bool)
    fake[: int(round(n * share))] = True
    names = list(BRANDS)
    brands = np.array([names[i % len(names)] for i in range(n)])
    return rng.permutation(fake), rng.permutation(brands)


def _jobs(n: int, seed: int, share: float, twins: bool) -> list[tuple]:
    """(index, counterfeit, brand, twin_of): twin_of is the index of the fake a twin copies."""
    if not twins:
        fakes, brands = _assignments(n, seed, share)
        return [(i, bool(fakes[i]), str(brands[i]), None) for i in range(n)]
    _, brands = _assignments(n // 2, seed, share)
    return [job for j in range(n // 2) for job in
            ((2 * j, True, str(brands[j]), None), (2 * j + 1, True, str(brands[j]), 2 * j))]


def _parcel_job(job, seed, difficulty, image_size, out_dir: str, twins: bool = False,
                views=None) -> list[dict]:
    index, counterfeit, brand, twin_of = job
    drawn = index if twin_of is None else twin_of  # a twin replays its fake's draws
    ss = np.random.SeedSequence(seed, spawn_key=(drawn,))
    rng = np.random.default_rng(ss)
    pid = f"syn{seed}-{index:05d}"
    p = make_parcel(index, pid, brand, bool(counterfeit), difficulty, rng, twin=twin_of is not None)
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
        prng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(drawn, k + 1)))
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
        if twins:
            rows[-1]["group"] = f"syn{seed}-{drawn:05d}"
    return rows


def generate_dataset(out_dir, n_parcels: int = 800, seed: int = 0, difficulty="mixed",
                     image_size: int = 224, counterfeit_share: float = 0.5, workers=None,
                     progress: bool = True, twins: bool = False, views=None) -> Path:
    """Write a synthetic parcel dataset to `out_dir`; returns the manifest's path. `views`:
    photograph every parcel in exactly these views (e.g. the label and box close-ups) instead
    of the usual 3 to 6."""
    _check(difficulty, n_parcels, seed, image_size, counterfeit_share, twins, views)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = out / "generator.json"
    if stamp.exists():
        # Ours from an earlier run: clear it so no stale photo survives a smaller rerun.
        stamp.unlink()
        shutil.rmtree(out / "images", ignore_errors=True)
    cfg = config(n_parcels, seed, difficulty, image_size, counterfeit_share, twins, views)
    jobs = _jobs(n_parcels, seed, counterfeit_share, twins)
    work = partial(_parcel_job, seed=seed, difficulty=cfg["difficulty"], image_size=image_size,
                   out_dir=str(out), twins=twins, views=cfg["views"])
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
        w = csv.DictWriter(f, fieldnames=COLUMNS + (("group",) if twins else ()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    contact_sheet(manifest, out / "preview.png")
    # Written last: its presence means the folder is complete for this configuration.
    stamp.write_text(json.dumps(cfg, indent=2) + "\n")
    return manifest
