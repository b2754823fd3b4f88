"""Decided parcels as a training manifest (datasets/README.md), photos copied beside it.

The photos come from the queue's own copies, so an export works after the inspection app has
deleted its files. "cannot_tell" parcels are left out: they carry no label to learn from. A
parcel decided with its seller's case carries its `case_id`: its label is the case's decision,
not a judgement of its own photos alone.
The file opens in spreadsheets, so a cell that starts as a formula would (`=`, `+`, `-`, `@`,
tab, carriage return) is written with a leading apostrophe: a reviewer named `=HYPERLINK(...)`
stays text.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from infer.review.queue import ReviewQueue

COLUMNS = ["path", "label", "brand", "parcel_id", "view", "defects", "reviewer", "decided_at",
           "model_suggestion", "why", "note", "original_name", "brand_source", "case_id"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def export_manifest(db: str | Path, out: str | Path) -> dict:
    """Write `out` (CSV) and `<out stem>_photos/`; returns counts."""
    out = Path(out)
    if out.suffix.lower() != ".csv":
        raise ValueError(f"{out}: the manifest must be a .csv file")
    out.parent.mkdir(parents=True, exist_ok=True)
    folder = out.parent / f"{out.stem}_photos"
    rows, skipped = [], 0
    for d in ReviewQueue(db).final_decisions():
        if d["decision"] == "cannot_tell":
            skipped += 1
            continue
        for photo in d["photos"]:
            # Named by queue id: unique, and independent of whatever the original file was called.
            target = folder / str(d["parcel_row"]) / f"{photo['id']}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(photo["jpeg"])
            rows.append({
                "path": target.relative_to(out.parent).as_posix(), "label": d["decision"],
                "brand": d["brand"] or "", "parcel_id": d["parcel_id"], "view": photo.get("view") or "", "defects": "",
                "reviewer": d["reviewer"], "decided_at": d["decided_at"],
                "model_suggestion": d["model_suggestion"], "why": d["why"], "note": d["note"] or "",
                "original_name": photo["name"], "brand_source": d.get("brand_source") or "",
                "case_id": d.get("case_id") or "",
            })
    # Write then rename: a crash never leaves a half manifest that training would accept.
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", newline="") as sink:
        writer = csv.DictWriter(sink, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)
    os.replace(partial, out)
    return {"photos": len(rows), "parcels": len({r["parcel_id"] for r in rows}),
            "cannot_tell": skipped}
