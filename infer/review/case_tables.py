"""Tables of parcel records and cases inside the review queue database.

Created with the queue's own tables (`CREATE ... IF NOT EXISTS`), so an older queue file gains
them when it is next opened. Case decisions and splits are append-only like parcel decisions:
a rebuild of the cases replaces the open cases, never what a liaison recorded.
"""

from __future__ import annotations

from infer.cases.records import NUMBER_COLUMNS, PARCEL_COLUMNS

RECORDS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS parcel_records (\n"
    "    parcel_row INTEGER PRIMARY KEY REFERENCES parcels (id),\n"
    + "".join(f"    {c} {'REAL' if c in NUMBER_COLUMNS else 'TEXT'},\n" for c in PARCEL_COLUMNS)
    + "    problems_json TEXT NOT NULL DEFAULT '[]'\n);\n"
)

CASES_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    case_logit REAL,
    probability REAL,
    created_at TEXT NOT NULL,
    threshold REAL NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'decided')),
    linked_by TEXT
);
CREATE TABLE IF NOT EXISTS case_splits (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL,
    parcel_row INTEGER NOT NULL REFERENCES parcels (id),
    reviewer TEXT NOT NULL,
    split_at TEXT NOT NULL,
    note TEXT,
    others_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS case_members (
    case_id TEXT NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    parcel_row INTEGER NOT NULL REFERENCES parcels (id),
    status TEXT NOT NULL DEFAULT 'member' CHECK (status IN ('member', 'split')),
    split_id INTEGER REFERENCES case_splits (id),
    PRIMARY KEY (case_id, parcel_row)
);
CREATE INDEX IF NOT EXISTS case_members_parcel ON case_members (parcel_row);
CREATE TABLE IF NOT EXISTS case_pairs (
    case_id TEXT NOT NULL REFERENCES cases (case_id) ON DELETE CASCADE,
    parcel_row_l INTEGER NOT NULL REFERENCES parcels (id),
    parcel_row_r INTEGER NOT NULL REFERENCES parcels (id),
    match_probability REAL NOT NULL,
    match_weight REAL NOT NULL,
    weights_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_pairs_case ON case_pairs (case_id);
CREATE TABLE IF NOT EXISTS case_decisions (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases (case_id),
    reviewer TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('counterfeit', 'genuine', 'cannot_tell')),
    brand TEXT,
    note TEXT,
    override INTEGER NOT NULL DEFAULT 0,
    members_json TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS case_decisions_no_update BEFORE UPDATE ON case_decisions
BEGIN SELECT RAISE(ABORT, 'case decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS case_decisions_no_delete BEFORE DELETE ON case_decisions
BEGIN SELECT RAISE(ABORT, 'case decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS case_splits_no_update BEFORE UPDATE ON case_splits
BEGIN SELECT RAISE(ABORT, 'case splits are append-only'); END;
CREATE TRIGGER IF NOT EXISTS case_splits_no_delete BEFORE DELETE ON case_splits
BEGIN SELECT RAISE(ABORT, 'case splits are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decided_cases_stay BEFORE DELETE ON cases WHEN OLD.status = 'decided'
BEGIN SELECT RAISE(ABORT, 'a decided case is kept'); END;
"""

SCHEMA = RECORDS_SCHEMA + CASES_SCHEMA
