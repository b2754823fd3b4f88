"""Helpers shared by the review-queue tests: a queue filled from the smoke model's parcels."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

from infer import Inspector
from infer.manifest import read_manifest
from infer.review import ReviewQueue, enqueue


def parcels(smoke_run, n: int) -> list[tuple[str, list[str]]]:
    df = read_manifest(smoke_run["manifest"])
    return [(pid, list(g["path"])) for pid, g in list(df.groupby("parcel_id", sort=True))[:n]]


def build_queue(smoke_run, folder: Path, n: int = 3) -> tuple[Path, list[int]]:
    """Queue n parcels (audit share 1, so every verdict is queued) from copies of their photos,
    then delete the copies: the queue must not depend on the app's files."""
    inspector = Inspector.load(smoke_run["output_dir"] / "model")
    db = folder / "review.db"
    queue = ReviewQueue(db)
    rows = []
    for pid, photos in parcels(smoke_run, n):
        scratch = folder / "incoming" / pid
        scratch.mkdir(parents=True)
        copies = [shutil.copy(p, scratch / Path(p).name) for p in photos]
        verdict = inspector.inspect(copies, parcel_id=pid)
        rows.append(enqueue(queue, verdict, copies, inspector, audit_share=1.0,
                            rng=random.Random(0)))
    shutil.rmtree(folder / "incoming")
    return db, rows


def copy_db(src: Path, dst: Path) -> Path:
    """A consistent copy of a WAL database (the backup API includes the uncheckpointed WAL)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    a.close()
    b.close()
    return dst
