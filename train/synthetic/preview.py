"""Contact sheet of a generated dataset: one row per parcel, its photos left to right, each row
captioned with brand, label, defects and strength, each photo with its view and what it shows."""

from __future__ import annotations

import csv
from collections import OrderedDict
from pathlib import Path

from PIL import Image, ImageDraw

from .raster import font

THUMB = 168
CAPTION = 22
UNDER = 16


def _pick(parcels: OrderedDict, n_rows: int) -> list[str]:
    fakes = [p for p, rows in parcels.items() if rows[0]["label"] == "counterfeit"]
    real = [p for p, rows in parcels.items() if rows[0]["label"] != "counterfeit"]
    picked = []
    for i in range(n_rows):
        src = fakes if i % 2 == 0 else real
        j = i // 2
        if j < len(src):
            picked.append(src[j])
    rest = [p for p in parcels if p not in picked]
    return (picked + rest)[:n_rows]


def contact_sheet(manifest: str | Path, out: str | Path, n_rows: int = 8) -> Path:
    manifest = Path(manifest)
    with manifest.open(newline="") as f:
        rows = list(csv.DictReader(f))
    parcels: OrderedDict = OrderedDict()
    for r in rows:
        parcels.setdefault(r.get("parcel_id") or r["path"], []).append(r)
    chosen = _pick(parcels, n_rows)
    cols = max(len(parcels[p]) for p in chosen)
    row_h = CAPTION + THUMB + UNDER
    sheet = Image.new("RGB", (cols * THUMB + (cols + 1) * 4, len(chosen) * row_h + 4), (255,) * 3)
    d = ImageDraw.Draw(sheet)
    big, small = font("DejaVuSans-Bold", 13), font("DejaVuSans", 10)
    for i, pid in enumerate(chosen):
        prow = parcels[pid]
        y = 4 + i * row_h
        head = prow[0]
        fake = head.get("label") == "counterfeit"
        text = f"{pid}  {head.get('brand', '')}  {head.get('label', '')}"
        if fake:
            text += f"  [{head.get('defects', '')}]  strength {head.get('strength', '')}"
        d.text((6, y + 3), text, font=big, fill=(180, 20, 20) if fake else (20, 110, 40))
        for j, r in enumerate(prow):
            x = 4 + j * (THUMB + 4)
            with Image.open(manifest.parent / r["path"]) as im:
                sheet.paste(im.convert("RGB").resize((THUMB, THUMB)), (x, y + CAPTION))
            under = r.get("view", "")
            if r.get("visible_defects"):
                under += ": " + r["visible_defects"].replace("stitch_", "st_").replace(
                    "label_", "lb_")
            d.text((x + 1, y + CAPTION + THUMB + 2), under, font=small,
                   fill=(180, 20, 20) if r.get("visible_defects") else (60, 60, 60))
    out = Path(out)
    sheet.save(out, optimize=False)
    return out
