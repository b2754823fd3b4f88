"""A queued parcel's record (its export declaration), checked the way linking will read it.

The check is `infer.cases.records.clean_records`, so a value the queue accepts is one linking can
use, and a value it cannot read is reported naming the parcel and the column, then stored as
null: one clerk's typo must not keep a parcel out of the queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from infer.cases.records import (
    NUMBER_COLUMNS,
    PARCEL_COLUMNS,
    TIME_COLUMN,
    Problem,
    clean_records,
    missing,
)


@dataclass(frozen=True)
class CheckedRecord:
    """A parcel record ready to store (text, numbers, the dispatch time as ISO text; None where
    absent or unreadable), and the problems found in it."""

    values: dict
    problems: list[Problem] = field(default_factory=list)

    def problem_dicts(self) -> list[dict]:
        return [vars(p) for p in self.problems]


def check_records(frame: pd.DataFrame) -> dict[str, CheckedRecord]:
    """Each parcel's checked record, by parcel id, from a frame of `parcel_id` and any parcel
    columns (others are ignored). One pass for many parcels: the check is a pandas one."""
    raw = pd.DataFrame({"parcel_id": frame["parcel_id"]}, dtype=object)
    for column in PARCEL_COLUMNS:
        raw[column] = frame[column].map(_raw).astype(object) if column in frame else None
    cleaned, problems = clean_records(raw)
    by_parcel: dict[str, list[Problem]] = {}
    for problem in problems:
        by_parcel.setdefault(problem.parcel_id, []).append(problem)
    out = {}
    for row in cleaned.to_dict("records"):
        out[row["parcel_id"]] = CheckedRecord({c: _stored(c, row[c]) for c in PARCEL_COLUMNS},
                                              by_parcel.get(row["parcel_id"], []))
    return out


def check_record(parcel_id: str, values: Mapping) -> CheckedRecord:
    """One parcel's record (`values`: any mapping holding parcel columns) checked."""
    frame = pd.DataFrame([{"parcel_id": parcel_id, **{c: values.get(c) for c in PARCEL_COLUMNS}}],
                         dtype=object)
    checked = check_records(frame)
    if parcel_id in checked:
        return checked[parcel_id]
    # No usable parcel id: the record is empty, and the problem says why.
    return CheckedRecord(dict.fromkeys(PARCEL_COLUMNS), clean_records(frame)[1])


def has_record(values: Mapping | None) -> bool:
    """Whether `values` carries any parcel column at all (a manifest without them has none)."""
    return bool(values) and any(_raw(values.get(c)) is not None for c in PARCEL_COLUMNS)


def manifest_record(group: pd.DataFrame) -> dict | None:
    """The parcel columns of one parcel's manifest rows: each column's first non-empty value
    (the record is the parcel's, repeated or not on each of its photos' rows)."""
    present = [c for c in PARCEL_COLUMNS if c in group.columns]
    if not present:
        return None
    out = {}
    for column in present:
        values = [v for v in group[column] if _raw(v) is not None]
        out[column] = values[0] if values else None
    return out


def _raw(value):
    if missing(value):
        return None
    if isinstance(value, str):
        return value.strip() or None
    return value


def _stored(column: str, value):
    if missing(value):
        return None
    if column == TIME_COLUMN:
        return pd.Timestamp(value).isoformat()
    if column in NUMBER_COLUMNS:
        return float(value)
    return str(value)
