"""Helpers shared by the review-queue tests: a queue filled from the smoke model's parcels, and
the review server started as its own process."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from infer import Inspector
from infer.manifest import read_manifest
from infer.review import ReviewQueue, enqueue


def parcels(smoke_run, n: int) -> list[tuple[str, list[str]]]:
    df = read_manifest(smoke_run["manifest"])
    return [(pid, list(g["path"])) for pid, g in list(df.groupby("parcel_id", sort=True))[:n]]


def tag_photo(path: Path, gtin: str = "00885259846194", bars: str | None = "0885259846193") -> Path:
    """A photographed size tag, drawn: what the label reader reads on a real parcel (the default
    barcode number has a wrong check digit, so a label check fails), and beside it an EAN-13
    whose bars carry `bars`."""
    import numpy as np
    import zxingcpp
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (1280, 720), (90, 80, 75))
    draw = ImageDraw.Draw(img)
    draw.rectangle((140, 120, 1160, 600), fill=(245, 245, 240))
    font = ImageFont.load_default(size=40)
    for i, line in enumerate(["MADE IN VIETNAM", "555088-101", f"UPC {gtin}", "US 10 UK 9 EUR 44"]):
        draw.text((180, 170 + 105 * i), line, fill=(20, 20, 20), font=font)
    if bars:
        code = zxingcpp.create_barcode(bars, zxingcpp.BarcodeFormat.EAN13)
        strip = Image.fromarray(np.asarray(code.to_image(scale=3, add_quiet_zones=True)))
        img.paste(strip.convert("RGB").resize((strip.width, 220)), (780, 250))
    img.save(path)
    return path


def build_queue(smoke_run, folder: Path, n: int = 3, with_tag: bool = False) -> tuple[Path, list[int]]:
    """Queue n parcels (audit share 1, so every verdict is queued) from copies of their photos,
    then delete the copies: the queue must not depend on the app's files. `with_tag`: the first
    parcel also holds a photo of a size tag, which the label reader reads."""
    # Only the tagged parcel needs the label reader; it costs seconds a photo on 2 cores.
    inspector = Inspector.load(smoke_run["output_dir"] / "model", labels=False)
    reader = Inspector.load(smoke_run["output_dir"] / "model") if with_tag else inspector
    db = folder / "review.db"
    queue = ReviewQueue(db)
    rows = []
    for pid, photos in parcels(smoke_run, n):
        scratch = folder / "incoming" / pid
        scratch.mkdir(parents=True)
        copies = [shutil.copy(p, scratch / Path(p).name) for p in photos]
        judge = inspector
        if with_tag and not rows:
            copies.append(str(tag_photo(scratch / "size-tag.jpg")))
            judge = reader
        verdict = judge.inspect(copies, parcel_id=pid)
        rows.append(enqueue(queue, verdict, copies, judge, audit_share=1.0,
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


def get_json(url: str, token: str):
    """A GET of the review API with the bearer token, its JSON body."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@contextlib.contextmanager
def review_server(db: Path, token: str, cwd: Path, ready: str = "/api/queue"):
    """`python -m infer.review serve` on a free port, its base URL once `ready` answers."""
    from tests.conftest import REPO, free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "infer.review", "serve", "--db", str(db), "--port", str(port),
         "--token", token],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            get_json(base + ready, token)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"review server did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(10)
