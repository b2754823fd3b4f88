"""How well the label reader reads real labels: per-field exact match against a person's reading.

For every photo of the ground truth (`datasets/label-truth/aj1-legit-check.csv`, one row per photo,
keyed by sha256) the reader (`infer.labels`) reads the photo and the parser takes its fields. A
field is scored on the photos where the person could read it (not empty, not `unreadable`):
exact match after the normalisation the parser promises (country in English, style code with its
dash, dates as calendar dates in either order, barcode digits without leading zeros, sizes as
numbers). The GTIN is scored as the reader reports it (the decoded bars, else the printed
digits) and from each source alone. Also reported: which photos the reader found print on, against the person's `kind`,
and the time per photo.

    python experiments/label-reading/evaluate.py --truth datasets/label-truth/aj1-legit-check.csv \\
        --photos ../shared/data/aj1-legit-check --out runs/label-reading/aj1-legit-check

`--reparse runs/label-reading/aj1-legit-check/photos.json` scores the parser again on the lines an
earlier run read, without reading the photos (a parser change costs seconds, not an OCR pass).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infer.labels.fields import Fields, parse  # noqa: E402
from infer.labels.reader import engine, read_photo  # noqa: E402
from infer.photos import PhotoError, load_photo  # noqa: E402

# `gtin` is the label's GTIN as the reader reports it: the bars where they decode, else the
# printed digits; `gtin_print` and `gtin_bars` score each source alone.
FIELDS = ("made_in", "style_code", "dates", "gtin", "gtin_print", "gtin_bars", "size_us", "size_uk",
          "size_eur", "size_cm")
READABLE = ("size_tag", "box_label")


def _number(text: str) -> str:
    t = text.strip().upper().replace(",", ".")
    kid = t.endswith("Y")
    try:
        value = float(t.rstrip("Y"))
    except ValueError:
        return t
    return f"{value:g}{'Y' if kid else ''}"


def _date(mmddyy: str) -> str | None:
    from infer.labels.fields import production_date

    parts = mmddyy.strip().split("/")
    if len(parts) != 3:
        return None
    got = production_date(*parts)
    return got.isoformat() if got else None


def truth_value(row: dict, name: str):
    """The person's reading of field `name`, normalised; None where it cannot be scored."""
    if name == "dates":
        a, b = row["date_start"], row["date_end"]
        if not a or not b or "unreadable" in (a, b):
            return None
        return tuple(sorted(d for d in (_date(a), _date(b)) if d))
    value = row["gtin" if name.startswith("gtin") else name]
    if not value or value == "unreadable":
        return None
    if name.startswith("gtin"):
        return row["gtin"].lstrip("0")
    if name.startswith("size_"):
        return _number(value)
    return value.strip().upper()


def read_value(fields: Fields, name: str):
    if name == "dates":
        return tuple(sorted(d for d in fields.production_dates if d != "invalid")) or None
    if name.startswith("gtin"):
        gtin = {"gtin": fields.barcode or fields.gtin, "gtin_print": fields.gtin,
                "gtin_bars": fields.barcode}[name]
        return gtin.lstrip("0") if gtin else None
    if name.startswith("size_"):
        got = fields.sizes.get(name[5:])
        return _number(got) if got else None
    return getattr(fields, name)


def read_record(folder: Path, row: dict, earlier: dict | None) -> dict:
    """One photo's read lines, boxes and confidences: read now, or taken from an earlier run."""
    if earlier is not None:
        old = earlier[row["file"]]
        return {k: old[k] for k in ("file", "kind", "lines", "boxes", "confidences", "barcodes", "reason",
                                    "seconds", "error") if k in old}
    try:
        photo = load_photo(folder / row["file"])
    except PhotoError as exc:
        return {"file": row["file"], "error": str(exc)}
    start = time.perf_counter()
    text = read_photo(photo)
    # Parsing is part of the time a photo costs in serving; it is repeated (cheaply) by the caller.
    parse(text.texts(), boxes=[line.box for line in text.lines])
    return {"file": row["file"], "kind": row["kind"], "lines": text.texts(),
            "boxes": [line.box for line in text.lines], "confidences": [line.confidence for line in text.lines],
            "barcodes": [code.gtin for code in text.barcodes], "reason": text.reason, "seconds": round(time.perf_counter() - start, 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--photos", type=Path, required=True, help="the folder the truth's `file` paths are in")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--kinds", nargs="+", default=list(READABLE), help="photo kinds to read")
    ap.add_argument("--detect-side", type=int, default=None,
                    help="longest side text is looked for on (default: the reader's own)")
    ap.add_argument("--reparse", type=Path, default=None,
                    help="photos.json of an earlier run: parse its read lines again instead of reading")
    args = ap.parse_args(argv)
    if args.detect_side:
        from infer.labels import reader

        reader.DETECT_SIDE = args.detect_side
    rows = [r for r in csv.DictReader(args.truth.open()) if r["kind"] in args.kinds]
    earlier = {r["file"]: r for r in json.loads(args.reparse.read_text())} if args.reparse else None
    if earlier is None:
        engine()  # built once, outside the per-photo times
    args.out.mkdir(parents=True, exist_ok=True)
    scored = {name: [0, 0] for name in FIELDS}
    per_photo, times = [], []
    for row in rows:
        record = read_record(args.photos, row, earlier)
        per_photo.append(record)
        if "error" in record:
            continue
        times.append(record["seconds"])
        fields = parse(record["lines"], boxes=record["boxes"])
        fields.barcode = (record.get("barcodes") or [None])[0]  # as infer.labels.parcel_evidence
        record["fields"], record["match"] = fields.to_dict(), {}
        for name in FIELDS:
            want = truth_value(row, name)
            if want is None:
                continue
            got = read_value(fields, name)
            scored[name][0] += got == want
            scored[name][1] += 1
            record["match"][name] = {"truth": want, "read": got, "ok": got == want}
    summary = {
        "photos": len(per_photo),
        "exact_match": {n: {"right": r, "of": t, "share": round(r / t, 3) if t else None}
                        for n, (r, t) in scored.items()},
        "seconds_per_photo_p50": round(sorted(times)[len(times) // 2], 3) if times else None,
    }
    (args.out / "photos.json").write_text(json.dumps(per_photo, indent=1, default=list))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
