"""Writing cases into the review queue: a build's cases, a liaison's case decision, a split.

A build replaces the open cases only. Decided cases are kept as they were decided, members and
evidence included, and their members are not linked again; a member the liaison split out of a
case is split out again when a rebuild puts it back with the parcels it was split from. So a
rebuild never undoes what a liaison recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass, field

from infer.cases.pooling import pool_case_logits, probability
from infer.review.queue import DECISIONS, QueueError, ReviewQueue, now

# A parcel's probability as a logit; 0 and 1 (a rounded score) would be infinite.
LOGIT_CLIP = 1e-6


@dataclass
class BuiltCase:
    """One case as linking found it: its queue rows and the scored pairs between them."""

    members: list[int]
    # (row_l, row_r, match_probability, match_weight, {comparison: match weight})
    pairs: list[tuple[int, int, float, float, dict]] = field(default_factory=list)
    linked_by: str | None = None


class CaseConflict(QueueError):
    """The request contradicts what was recorded (HTTP 409)."""

    def __init__(self, message: str, previous: dict | None = None):
        super().__init__(message)
        self.previous = previous


def logit(p: float | None) -> float:
    if p is None:
        return math.nan
    p = min(max(float(p), LOGIT_CLIP), 1 - LOGIT_CLIP)
    return math.log(p / (1 - p))


def case_id_of(parcel_ids: list[str]) -> str:
    """An id from the members' parcel ids: the same members keep one address over rebuilds."""
    digest = hashlib.sha1("\n".join(sorted(parcel_ids)).encode()).hexdigest()
    return f"C-{digest[:10]}"


def frozen_rows(queue: ReviewQueue) -> set[int]:
    """Queue rows that are members of a decided case: linking leaves them where they were decided."""
    with queue.reading() as db:
        rows = db.execute("SELECT m.parcel_row FROM case_members m JOIN cases c USING (case_id) "
                          "WHERE c.status = 'decided' AND m.status = 'member'").fetchall()
    return {int(r[0]) for r in rows}


def replace_cases(queue: ReviewQueue, built: list[BuiltCase], threshold: float,
                  backend: str) -> dict:
    """Store a build: open cases are replaced by `built` (cases of two or more members); decided
    cases and every decision stay. Returns counts."""
    created = now()
    with queue.writing() as db:
        # Decided meanwhile (the build links outside this transaction): those members stay put.
        frozen = {int(r[0]) for r in db.execute(
            "SELECT m.parcel_row FROM case_members m JOIN cases c USING (case_id) "
            "WHERE c.status = 'decided' AND m.status = 'member'")}
        db.execute("DELETE FROM cases WHERE status = 'open'")
        kept = {r[0] for r in db.execute("SELECT case_id FROM cases")}
        splits = db.execute("SELECT id, parcel_row, others_json FROM case_splits ORDER BY id").fetchall()
        stored = resplit = 0
        for case in built:
            members = sorted(set(case.members) - frozen)
            if len(members) < 2:
                continue
            ids = _parcel_ids(db, members)
            case_id = case_id_of([ids[r] for r in members])
            while case_id in kept:  # cannot happen for new members; never overwrite a decided case
                case_id += "x"
            split_of = _splits_within(members, splits)
            if len(members) - len(split_of) < 2:  # what is left is one parcel, decided on its own
                continue
            db.execute("INSERT INTO cases (case_id, size, created_at, threshold, backend, linked_by) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (case_id, 0, created, threshold, backend, case.linked_by))
            db.executemany("INSERT INTO case_members (case_id, parcel_row, status, split_id) VALUES (?, ?, ?, ?)",
                           [(case_id, r, "split" if r in split_of else "member", split_of.get(r))
                            for r in members])
            inside = set(members)
            db.executemany(
                "INSERT INTO case_pairs (case_id, parcel_row_l, parcel_row_r, match_probability, "
                "match_weight, weights_json) VALUES (?, ?, ?, ?, ?, ?)",
                [(case_id, a, b, float(p), float(w), json.dumps(weights))
                 for a, b, p, w, weights in case.pairs if a in inside and b in inside])
            refresh_case(db, case_id)
            stored += 1
            resplit += len(split_of)
    return {"cases": stored, "decided_cases_kept": len(kept), "splits_reapplied": resplit,
            "created_at": created}


def _parcel_ids(db: sqlite3.Connection, rows: list[int]) -> dict[int, str]:
    marks = ",".join("?" * len(rows))
    return {int(r["id"]): r["parcel_id"] for r in
            db.execute(f"SELECT id, parcel_id FROM parcels WHERE id IN ({marks})", rows)}


def _splits_within(members: list[int], splits: list[sqlite3.Row]) -> dict[int, int]:
    """Member row -> the split that keeps it out: it was split from parcels that are here again."""
    inside = set(members)
    out = {}
    for split in splits:
        row = int(split["parcel_row"])
        if row in inside and inside & set(json.loads(split["others_json"])):
            out[row] = int(split["id"])
    return out


def refresh_case(db: sqlite3.Connection, case_id: str) -> None:
    """Size and pooled score of a case from its members now (after a build or a split)."""
    scores = [r[0] for r in db.execute(
        "SELECT p.counterfeit_probability FROM case_members m JOIN parcels p ON p.id = m.parcel_row "
        "WHERE m.case_id = ? AND m.status = 'member'", (case_id,))]
    pooled = pool_case_logits([logit(p) for p in scores])
    finite = math.isfinite(pooled)
    db.execute("UPDATE cases SET size = ?, case_logit = ?, probability = ? WHERE case_id = ?",
               (len(scores), pooled if finite else None,
                float(probability(pooled)) if finite else None, case_id))


def decide_case(queue: ReviewQueue, case_id: str, decision: str, reviewer: str,
                brand: str | None = None, note: str | None = None, override: bool = False) -> dict:
    """One decision for the case, and one audited decision (carrying `case_id`) for each member
    still in it. Members the liaison already decided on their own keep that decision unless
    `override`. A decided case is refused (CaseConflict) unless `override`."""
    if decision not in DECISIONS:
        raise QueueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if not reviewer or not reviewer.strip():
        raise QueueError("reviewer is required")
    brand = (brand or "").strip().lower() or None
    with queue.writing() as db:
        case = db.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if case is None:
            raise KeyError(case_id)
        if case["status"] == "decided" and not override:
            previous = db.execute("SELECT * FROM case_decisions WHERE case_id = ? ORDER BY id DESC LIMIT 1",
                                  (case_id,)).fetchone()
            raise CaseConflict(f"case {case_id} was already decided ({previous['decision']} by "
                               f"{previous['reviewer']}); send override=true to record a new decision",
                               case_decision(previous))
        members = db.execute(
            "SELECT p.* FROM case_members m JOIN parcels p ON p.id = m.parcel_row "
            "WHERE m.case_id = ? AND m.status = 'member' ORDER BY p.id", (case_id,)).fetchall()
        at = now()
        decided, kept = [], []
        for parcel in members:
            if parcel["status"] == "decided" and not override:
                kept.append(parcel["parcel_id"])
                continue
            db.execute(
                "INSERT INTO decisions (parcel_row, reviewer, decided_at, decision, brand, note, "
                "model_suggestion, model_version, override, brand_source, case_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (parcel["id"], reviewer.strip(), at, decision, brand, note or None, parcel["verdict"],
                 parcel["model_version"], int(parcel["status"] == "decided"),
                 "chosen" if brand else None, case_id))
            db.execute("UPDATE parcels SET status = 'decided' WHERE id = ?", (parcel["id"],))
            decided.append(parcel["parcel_id"])
        did = db.execute(
            "INSERT INTO case_decisions (case_id, reviewer, decided_at, decision, brand, note, "
            "override, members_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (case_id, reviewer.strip(), at, decision, brand, note or None,
             int(case["status"] == "decided"), json.dumps(decided))).lastrowid
        db.execute("UPDATE cases SET status = 'decided' WHERE case_id = ?", (case_id,))
        row = case_decision(db.execute("SELECT * FROM case_decisions WHERE id = ?", (did,)).fetchone())
    return {**row, "kept": kept}


def case_decision(row: sqlite3.Row) -> dict:
    """A case decision as the API gives it: `members` are the parcel ids it decided."""
    out = dict(row)
    out["members"] = json.loads(out.pop("members_json"))
    return out


def split_member(queue: ReviewQueue, case_id: str, parcel_id: str, reviewer: str,
                 note: str | None = None) -> dict:
    """Take one parcel out of an open case: it is no longer decided with it, and a rebuild that
    links it to these parcels again splits it out again. Returns the split."""
    if not reviewer or not reviewer.strip():
        raise QueueError("reviewer is required")
    with queue.writing() as db:
        case = db.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if case is None:
            raise KeyError(case_id)
        if case["status"] == "decided":
            raise CaseConflict(f"case {case_id} is decided; a decided case keeps its members "
                               "(decide the parcel on its own page with override instead)")
        members = {r["parcel_id"]: int(r["parcel_row"]) for r in db.execute(
            "SELECT p.parcel_id, m.parcel_row FROM case_members m JOIN parcels p ON p.id = m.parcel_row "
            "WHERE m.case_id = ? AND m.status = 'member'", (case_id,))}
        if parcel_id not in members:
            raise LookupError(f"parcel {parcel_id!r} is not a member of case {case_id}")
        if len(members) == 1:
            raise CaseConflict(f"parcel {parcel_id!r} is the last member of case {case_id}")
        row = members.pop(parcel_id)
        sid = db.execute(
            "INSERT INTO case_splits (case_id, parcel_row, reviewer, split_at, note, others_json) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (case_id, row, reviewer.strip(), now(), note or None, json.dumps(sorted(members.values())))
        ).lastrowid
        db.execute("UPDATE case_members SET status = 'split', split_id = ? WHERE case_id = ? AND parcel_row = ?",
                   (sid, case_id, row))
        refresh_case(db, case_id)
        split = dict(db.execute("SELECT * FROM case_splits WHERE id = ?", (sid,)).fetchone())
    split["split_from"] = sorted(members)
    del split["others_json"]
    return {**split, "parcel_id": parcel_id}
