"""Link the review queue's parcels into cases and store them in the queue database.

What is linked: the latest queue row of each parcel id (a parcel judged again by a newer model is
queued again), with its parcel record, the style code and "made in" its labels were read as,
and its photos' mean embedding. Left out: audit parcels still waiting for their blind decision
(a case page shows the other members' scores, and the audit measures the model's error only if
the liaison judges them without it) and members of decided cases (they stay as decided).
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd

from infer.cases.records import PARCEL_COLUMNS
from infer.review.case_store import BuiltCase, frozen_rows, replace_cases
from infer.review.case_views import label_fields
from infer.review.queue import ReviewQueue


def queue_records(queue: ReviewQueue) -> tuple[pd.DataFrame, dict[str, int]]:
    """(records to link, one row per parcel id; parcel id -> queue row)."""
    with queue.reading() as db:
        rows = db.execute(
            "SELECT p.id, p.parcel_id, p.verdict_json, p.model_run_id, r.* FROM parcels p "
            "LEFT JOIN parcel_records r ON r.parcel_row = p.id "
            "WHERE p.id = (SELECT MAX(id) FROM parcels x WHERE x.parcel_id = p.parcel_id) "
            "AND NOT (p.why = 'audit' AND p.status = 'queued') ORDER BY p.id").fetchall()
        embedded = db.execute("SELECT parcel_row, embedding FROM photos WHERE embedding IS NOT NULL "
                              "ORDER BY parcel_row, position").fetchall()
    frozen = frozen_rows(queue)
    rows = [r for r in rows if int(r["id"]) not in frozen]
    table = []
    for r in rows:
        entry = {"parcel_id": r["parcel_id"], **{c: r[c] for c in PARCEL_COLUMNS}}
        entry.update(label_fields(json.loads(r["verdict_json"])))
        table.append(entry)
    frame = pd.DataFrame(table, columns=["parcel_id", *PARCEL_COLUMNS, "style_code", "made_in"])
    frame["photo_embedding"] = parcel_embeddings(rows, embedded)
    # A column nobody filled in is absent, not compared: "absent" must not look like "agrees".
    frame = frame[[c for c in frame.columns if c == "parcel_id" or frame[c].notna().any()]]
    return frame, {r["parcel_id"]: int(r["id"]) for r in rows}


def parcel_embeddings(rows: list, embedded: list) -> list:
    """Each parcel's photos' mean embedding, unit length; None without one. Only the parcels of the
    commonest model run get one: two models' embeddings are not comparable."""
    run_of = {int(r["id"]): r["model_run_id"] for r in rows}
    vectors: dict[int, list[np.ndarray]] = {}
    for e in embedded:
        row = int(e["parcel_row"])
        if row in run_of:
            vector = np.frombuffer(e["embedding"], dtype=np.float32)
            if vector.size and np.isfinite(vector).all():
                vectors.setdefault(row, []).append(vector)
    runs = Counter(run_of[row] for row in vectors)
    if not runs:
        return [None] * len(rows)
    run = runs.most_common(1)[0][0]
    out = []
    for r in rows:
        stack = vectors.get(int(r["id"]))
        if not stack or run_of[int(r["id"])] != run or len({v.size for v in stack}) != 1:
            out.append(None)
            continue
        mean = np.mean(stack, axis=0)
        norm = float(np.linalg.norm(mean))
        out.append((mean / norm).tolist() if norm > 0 else None)
    return out


def built_cases(result, row_of: dict[str, int]) -> list[BuiltCase]:
    """The link result's cases of two or more parcels, with the pairs inside each."""
    from infer.cases.table import cases_table

    cases = result.cases[result.cases["case_size"] > 1]
    if cases.empty:
        return []
    linked_by = cases_table(result).set_index("case_id")["linked_by"]
    case_of = dict(zip(cases["parcel_id"], cases["case_id"], strict=True))
    pairs = result.pairs
    weights = [c for c in pairs.columns if c.startswith("mw_")]
    inside = pairs[pairs["parcel_id_l"].map(case_of).notna()
                   & (pairs["parcel_id_l"].map(case_of) == pairs["parcel_id_r"].map(case_of))]
    by_case: dict[str, list] = {}
    for pair in inside.itertuples(index=False):
        pair = pair._asdict()
        by_case.setdefault(case_of[pair["parcel_id_l"]], []).append((
            row_of[pair["parcel_id_l"]], row_of[pair["parcel_id_r"]], pair["match_probability"],
            pair["match_weight"], {w[3:]: _finite(pair[w]) for w in weights}))
    out = []
    for case_id, group in cases.groupby("case_id"):
        text = linked_by.get(case_id)
        out.append(BuiltCase(members=[row_of[p] for p in group["parcel_id"]],
                             pairs=by_case.get(case_id, []),
                             linked_by=text if isinstance(text, str) and text else None))
    return out


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def build_queue_cases(db: str, backend: str = "duckdb", threshold: float = 0.99,
                      progress: bool = False) -> dict:
    """Link the queue's parcels and store the cases; returns counts and the linking problems."""
    from infer.cases.link import link_parcels

    queue = ReviewQueue(db)
    records, row_of = queue_records(queue)
    if len(records) < 2:
        stored = replace_cases(queue, [], threshold, backend)
        return {"parcels": len(records), "linked_parcels": 0, "problems": [], **stored}
    result = link_parcels(records, backend=backend, threshold=threshold, progress=progress)
    built = built_cases(result, row_of)
    stored = replace_cases(queue, built, threshold, backend)
    return {"parcels": len(records), "linked_parcels": sum(len(c.members) for c in built),
            "problems": result.problems, **stored}
