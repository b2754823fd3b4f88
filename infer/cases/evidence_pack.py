"""A case's evidence pack: what customs hands to the brand holder or the police.

One folder, written whole or not at all (built beside it, then renamed into place):
- `case.json`: the case (pooled score, threshold, status, decisions), every member with its
  parcel record, the label fields and text read off its photos, the model's verdict and the
  latest decision, the members split out, what links them and every scored pair;
- `members.csv`, `pairs.csv` (one `mw_<comparison>` match weight column per comparison),
  `labels.csv` (each line of print read, per photo);
- `photos/<queue row>/<photo id>.jpg`: the queue's copies of the members' photos, their original
  names and SHA-256 digests listed in `case.json` and `members.csv`.
CSV cells that a spreadsheet would run as a formula are written as text.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from infer.cases.records import PARCEL_COLUMNS
from infer.review.case_views import LABEL_FIELDS, case_detail, list_cases
from infer.review.export import cell
from infer.review.queue import ReviewQueue

POOLING = "mean of the members' counterfeit logits (infer/cases/pooling.py)"
MEMBER_COLUMNS = ["parcel_id", "queue_row", "why", "verdict", "counterfeit_probability", "brand",
                  "model_version", "decision", "reviewer", "decided_at", "decision_case_id",
                  *LABEL_FIELDS, *PARCEL_COLUMNS, "record_problems", "photos", "photo_sha256"]
# Case ids an unknown-case error names, so the caller sees what the queue holds.
NAMED_CASES = 5


def write_pack(db: str | Path, case_id: str, out: str | Path) -> dict:
    """Write the pack of `case_id` to the folder `out` (absent or empty); returns counts."""
    queue = ReviewQueue(db)
    case = case_detail(queue, case_id, all_pairs=True)
    if case is None:
        known = [c["case_id"] for c in list_cases(queue)][:NAMED_CASES]
        raise LookupError(f"{db}: no case {case_id!r}" + (
            f" (cases there include {', '.join(known)})" if known else
            " (it holds no cases: python -m infer.cases build --db makes them)"))
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise FileExistsError(f"{out}: already exists and is not an empty folder; "
                              "an evidence pack is written into a new folder")
    partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
    try:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        counts = _write(queue, case, partial, db)
        if out.exists():
            out.rmdir()
        os.replace(partial, out)
    except OSError as err:
        shutil.rmtree(partial, ignore_errors=True)
        raise OSError(f"{out}: cannot write the evidence pack there "
                      f"({err.strerror or err})") from err
    return counts


def _write(queue: ReviewQueue, case: dict, folder: Path, db) -> dict:
    photos = 0
    for member in case["members"]:
        for photo in member["photos"]:
            photo.pop("has_photo", None)
            data = queue.image(photo["id"], "photo")
            if data is None:
                photo["file"], photo["sha256"] = None, None
                continue
            target = folder / "photos" / str(member["id"]) / f"{photo['id']}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            photo["file"] = target.relative_to(folder).as_posix()
            photo["sha256"] = hashlib.sha256(data).hexdigest()
            photos += 1
    pack = {
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": str(db), "pooling": POOLING,
        "case": {k: case[k] for k in ("case_id", "size", "probability", "case_logit", "status",
                                      "threshold", "backend", "created_at", "linked_by")},
        "decisions": case["decisions"], "members": case["members"], "split_out": case["split_out"],
        "linked_by": case["linked_by_comparison"], "shared_attributes": case["shared_attributes"],
        "pairs": case["pairs"],
    }
    (folder / "case.json").write_text(json.dumps(pack, indent=2, ensure_ascii=False))
    _csv(folder / "members.csv", MEMBER_COLUMNS, [_member_row(m) for m in case["members"]])
    names = sorted({n for p in case["pairs"] for n in p["weights"]})
    _csv(folder / "pairs.csv", ["parcel_id_l", "parcel_id_r", "match_probability", "match_weight",
                                *[f"mw_{n}" for n in names]],
         [{**{k: p[k] for k in ("parcel_id_l", "parcel_id_r", "match_probability", "match_weight")},
           **{f"mw_{n}": p["weights"].get(n) for n in names}} for p in case["pairs"]])
    _csv(folder / "labels.csv", ["parcel_id", "photo", "line", "text"],
         [{"parcel_id": m["parcel_id"], "photo": label["photo"], "line": i + 1, "text": text}
          for m in case["members"] for label in m["label_text"] for i, text in enumerate(label["lines"])])
    return {"members": len(case["members"]), "pairs": len(case["pairs"]), "photos": photos}


def _member_row(m: dict) -> dict:
    decision = m["decision"] or {}
    kept = [p for p in m["photos"] if p.get("file")]
    return {
        "parcel_id": m["parcel_id"], "queue_row": m["id"], "why": m["why"], "verdict": m["verdict"],
        "counterfeit_probability": m["counterfeit_probability"], "brand": m["brand"],
        "model_version": m["model_version"], "decision": decision.get("decision"),
        "reviewer": decision.get("reviewer"), "decided_at": decision.get("decided_at"),
        "decision_case_id": decision.get("case_id"), **m["label_fields"],
        **{c: m["record"].get(c) for c in PARCEL_COLUMNS},
        "record_problems": "; ".join(f"{p['column']}={p['value']!r}: {p['problem']}"
                                     for p in m["record_problems"]),
        "photos": ";".join(p["file"] for p in kept), "photo_sha256": ";".join(p["sha256"] for p in kept),
    }


def _csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.DictWriter(sink, fieldnames=columns)
        writer.writeheader()
        # Numbers are written as numbers; text that a spreadsheet would run is written as text.
        writer.writerows({k: v if isinstance(v, int | float) else cell(v) for k, v in row.items()}
                         for row in rows)
