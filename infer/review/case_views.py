"""Reading cases out of the review queue, as the case pages, the API and the evidence pack show them."""

from __future__ import annotations

import json
from collections import Counter

from infer.cases.records import PARCEL_COLUMNS, TIME_COLUMN
from infer.review.case_store import case_decision
from infer.review.queue import ReviewQueue

# What each Splink comparison (infer/cases/settings.py) looked at, in the record's own words.
COMPARED = {
    "seller_key": ("platform + seller account", ("platform", "seller_account")),
    "phone": ("sender phone", ("sender_phone",)),
    "name_norm": ("sender name", ("sender_name",)),
    "address": ("sender address", ("sender_address",)),
    "dispatch_time": ("dispatch time", ("dispatch_time",)),
    "origin_city": ("origin city", ("origin_city",)),
    "destination_country": ("destination country", ("destination_country",)),
    "style_code": ("style code on the label", ("style_code",)),
    "made_in": ("\"made in\" on the label", ("made_in",)),
    "photo_bits": ("look of the photos (model embedding)", ()),
}
LABEL_FIELDS = ("style_code", "made_in")
# Values listed per attribute on a case page; the rest are counted.
SHOWN_VALUES = 6
# Pairs the API and the page list, strongest first; the evidence pack holds them all.
SHOWN_PAIRS = 200
CASE_STATUSES = ("open", "decided", "all")


def list_cases(queue: ReviewQueue, status: str = "all") -> list[dict]:
    """Cases, most urgent first: size × pooled probability (a big, likely counterfeit seller
    first), each with its latest case decision."""
    if status not in CASE_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CASE_STATUSES)}, got {status!r}")
    where = "" if status == "all" else "WHERE c.status = ?"
    with queue.reading() as db:
        rows = db.execute(
            "SELECT c.*, c.size * COALESCE(c.probability, 0) AS urgency, d.decision, d.reviewer, "
            "d.decided_at, (SELECT COUNT(*) FROM case_members m WHERE m.case_id = c.case_id "
            "AND m.status = 'split') AS split_out FROM cases c LEFT JOIN case_decisions d ON d.id = "
            "(SELECT MAX(id) FROM case_decisions x WHERE x.case_id = c.case_id) "
            f"{where} ORDER BY urgency DESC, c.size DESC, c.case_id",
            () if status == "all" else (status,)).fetchall()
    return [dict(r) for r in rows]


def case_of(queue: ReviewQueue, row: int) -> str | None:
    """The case a queue row is a member of (its latest), or None."""
    with queue.reading() as db:
        hit = db.execute("SELECT m.case_id FROM case_members m JOIN cases c USING (case_id) "
                         "WHERE m.parcel_row = ? AND m.status = 'member' "
                         "ORDER BY c.created_at DESC LIMIT 1", (row,)).fetchone()
    return None if hit is None else hit["case_id"]


def case_detail(queue: ReviewQueue, case_id: str, all_pairs: bool = False) -> dict | None:
    """A case with its members (records, label fields, verdicts, latest decisions, photos), the
    members split out, what links them (per comparison: mean match weight and the values), the
    scored pairs and the case decisions."""
    with queue.reading() as db:
        case = db.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if case is None:
            return None
        members = [_member(db, r) for r in db.execute(
            "SELECT m.status AS member_status, m.split_id, p.*, s.reviewer AS split_by, "
            "s.split_at, s.note AS split_note FROM case_members m JOIN parcels p ON p.id = m.parcel_row "
            "LEFT JOIN case_splits s ON s.id = m.split_id WHERE m.case_id = ? ORDER BY p.parcel_id",
            (case_id,))]
        # A split-out member's pairs no longer explain the case.
        ids = {m["id"]: m["parcel_id"] for m in members if m["member_status"] == "member"}
        pairs = [{"parcel_id_l": ids[r["parcel_row_l"]], "parcel_id_r": ids[r["parcel_row_r"]],
                  "match_probability": r["match_probability"], "match_weight": r["match_weight"],
                  "weights": json.loads(r["weights_json"])} for r in db.execute(
            "SELECT * FROM case_pairs WHERE case_id = ? ORDER BY match_probability DESC, "
            "match_weight DESC", (case_id,)) if r["parcel_row_l"] in ids and r["parcel_row_r"] in ids]
        decisions = [case_decision(r) for r in db.execute(
            "SELECT * FROM case_decisions WHERE case_id = ? ORDER BY id", (case_id,))]
    inside = [m for m in members if m["member_status"] == "member"]
    attributes = shared_attributes(inside)
    out = dict(case)
    out.update(
        members=inside, split_out=[m for m in members if m["member_status"] == "split"],
        linked_by_comparison=comparison_summary(pairs, case["threshold"], attributes),
        shared_attributes=attributes, pair_count=len(pairs),
        pairs=pairs if all_pairs else pairs[:SHOWN_PAIRS], decisions=decisions)
    return out


def _member(db, row) -> dict:
    member = {k: row[k] for k in ("id", "parcel_id", "why", "status", "verdict", "counterfeit_probability",
                                  "brand", "model_version", "created_at", "member_status")}
    if row["member_status"] == "split":
        member["split"] = {"by": row["split_by"], "at": row["split_at"], "note": row["split_note"]}
    record = db.execute("SELECT * FROM parcel_records WHERE parcel_row = ?", (row["id"],)).fetchone()
    member["record"] = {c: record[c] for c in PARCEL_COLUMNS} if record else {}
    member["record_problems"] = json.loads(record["problems_json"]) if record else []
    verdict = json.loads(row["verdict_json"])
    member["label_fields"] = label_fields(verdict)
    member["label_text"] = label_text(verdict)
    latest = db.execute("SELECT decision, reviewer, decided_at, override, case_id, note FROM decisions "
                        "WHERE parcel_row = ? ORDER BY id DESC LIMIT 1", (row["id"],)).fetchone()
    member["decision"] = dict(latest) if latest else None
    member["photos"] = [dict(p) for p in db.execute(
        "SELECT id, position, name, jpeg IS NOT NULL AS has_photo FROM photos WHERE parcel_row = ? "
        "ORDER BY position", (row["id"],))]
    return member


def label_fields(verdict: dict) -> dict:
    """The parcel's style code and "made in" as its labels were read (the first photo that says)."""
    out = dict.fromkeys(LABEL_FIELDS)
    for label in verdict.get("labels") or []:
        fields = label.get("fields") or {}
        for name in LABEL_FIELDS:
            if out[name] is None and fields.get(name):
                out[name] = str(fields[name])
    return out


def label_text(verdict: dict) -> list[dict]:
    """Per photo whose print was read: the photo's name and the lines read, in order."""
    return [{"photo": label.get("path") or f"photo {label.get('photo', 0) + 1}",
             "lines": [line["text"] for line in label.get("lines") or []]}
            for label in verdict.get("labels") or [] if label.get("lines")]


def comparison_summary(pairs: list[dict], threshold: float, attributes: dict) -> list[dict]:
    """Per comparison, over the pairs that link the case (at or above the threshold): the mean
    match weight (log2 Bayes factor; positive argued for the link) and how many pairs it argued
    for, strongest first, with the values it looked at (`attributes`: `shared_attributes`)."""
    linking = [p for p in pairs if p["match_probability"] >= threshold]
    names = sorted({n for p in linking for n in p["weights"]})
    out = []
    for name in names:
        weights = [p["weights"][name] for p in linking if p["weights"].get(name) is not None]
        if not weights:
            continue
        title, columns = COMPARED.get(name, (name.replace("_", " "), ()))
        out.append({"comparison": name, "what": title, "mean_weight": sum(weights) / len(weights),
                    "pairs_for": sum(w > 0 for w in weights), "pairs": len(weights),
                    "values": {c: attributes[c] for c in columns if c in attributes}})
    return sorted(out, key=lambda c: -c["mean_weight"])


def shared_attributes(members: list[dict]) -> dict[str, dict]:
    """Per record column (and label field): how many members have a value, how many distinct
    values, and the commonest with their counts. The dispatch time is given as its span."""
    out = {}
    for column in (*PARCEL_COLUMNS, *LABEL_FIELDS):
        source = "label_fields" if column in LABEL_FIELDS else "record"
        values = [m[source].get(column) for m in members if m[source].get(column) is not None]
        if not values:
            continue
        entry = {"members_with_value": len(values), "distinct": len(set(values))}
        if column == TIME_COLUMN:
            entry["first"], entry["last"] = min(values), max(values)
        else:
            entry["common"] = Counter(values).most_common(SHOWN_VALUES)
        out[column] = entry
    return out
