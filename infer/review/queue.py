"""The review queue: parcels waiting for the brand liaison, their evidence, and every decision.

SQLite in WAL mode so the review server can read while the inspector enqueues; every write is
one transaction, and each decision is committed on its own, so killing the server loses nothing
already answered. Decisions are append-only (triggers refuse UPDATE and DELETE): an override
adds a row, it never rewrites the first one.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from infer.cases.records import PARCEL_COLUMNS
from infer.review.case_tables import SCHEMA as CASE_SCHEMA

DECISIONS = ("counterfeit", "genuine", "cannot_tell")
# Where a decision's brand came from: accepted from the model by a key press, or chosen by the
# liaison. Training weighs the two differently: an accepted brand is the model's own guess.
BRAND_SOURCES = ("model", "chosen")
BUSY_TIMEOUT_MS = 10_000
SORTS = {
    "probability": "p.counterfeit_probability",
    "age": "p.created_at",
    "brand": "p.brand",
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS parcels (
    id INTEGER PRIMARY KEY,
    parcel_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'decided')),
    why TEXT NOT NULL CHECK (why IN ('review', 'audit')),
    verdict TEXT NOT NULL,
    verdict_json TEXT NOT NULL,
    counterfeit_probability REAL NOT NULL,
    brand TEXT,
    model_name TEXT,
    model_version TEXT,
    model_run_id TEXT
);
CREATE INDEX IF NOT EXISTS parcels_status ON parcels (status);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    parcel_row INTEGER NOT NULL REFERENCES parcels (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    jpeg BLOB,
    scores_json TEXT NOT NULL,
    counterfeit_probability REAL,
    heatmap BLOB
);
CREATE INDEX IF NOT EXISTS photos_parcel ON photos (parcel_row);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    parcel_row INTEGER NOT NULL REFERENCES parcels (id),
    reviewer TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('counterfeit', 'genuine', 'cannot_tell')),
    brand TEXT,
    note TEXT,
    model_suggestion TEXT NOT NULL,
    model_version TEXT,
    override INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS reference_photos (
    id INTEGER PRIMARY KEY,
    model_run_id TEXT,
    brand TEXT NOT NULL,
    model TEXT NOT NULL,
    view TEXT NOT NULL,
    name TEXT NOT NULL,
    listing TEXT NOT NULL,
    jpeg BLOB NOT NULL,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS reference_run ON reference_photos (model_run_id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""


class QueueError(ValueError):
    pass


class AlreadyDecided(QueueError):
    def __init__(self, row: int, previous: dict):
        super().__init__(f"parcel row {row} was already decided ({previous['decision']} by "
                         f"{previous['reviewer']}); send override=true to record a new decision")
        self.previous = previous


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ReviewQueue:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise QueueError(f"{self.path}: is a folder, expected a SQLite file")
        try:
            with self._connect() as db:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if mode.lower() != "wal":
                    raise QueueError(f"{self.path}: cannot switch to WAL journal (got {mode})")
                db.executescript(SCHEMA)
                db.executescript(CASE_SCHEMA)
                # Columns added since the first queues were made; an older file gains them.
                for table, column in (("decisions", "brand_source TEXT"), ("photos", "embedding BLOB"),
                                      ("photos", "view TEXT"), ("decisions", "case_id TEXT")):
                    have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                    if column.split()[0] not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
        except sqlite3.DatabaseError as exc:
            raise QueueError(f"{self.path}: not a usable review queue database ({exc})") from exc

    # A connection per operation: the server answers from several threads, and sqlite3
    # connections must not be shared between them.
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front, so check-then-insert cannot race.
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # For the case tables (infer/review/case_store.py), which share this file and its locking.
    def reading(self):
        return self._connect()

    def writing(self):
        return self._write()

    # -- writing --------------------------------------------------------------------------
    def add(self, verdict: dict, why: str, photos: Sequence[dict], record: dict | None = None,
            problems: Sequence[dict] = ()) -> int:
        """Store one parcel. `photos`: dicts with name, jpeg, scores, heatmap (aligned with
        verdict["photos"]). `record`: its checked parcel record (`records.check_record`), stored
        in the same transaction with the `problems` found in it."""
        if why not in ("review", "audit"):
            raise QueueError(f"why must be 'review' or 'audit', got {why!r}")
        model = verdict.get("model") or {}
        with self._write() as db:
            row = db.execute(
                "INSERT INTO parcels (parcel_id, created_at, why, verdict, verdict_json, "
                "counterfeit_probability, brand, model_name, model_version, model_run_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (verdict["parcel_id"], now(), why, verdict["verdict"], json.dumps(verdict),
                 float(verdict["counterfeit_probability"]), verdict.get("brand"),
                 model.get("name"), _text(model.get("version")), model.get("run_id")),
            ).lastrowid
            for position, photo in enumerate(photos):
                scores = photo.get("scores") or {}
                embedding = photo.get("embedding")
                db.execute(
                    "INSERT INTO photos (parcel_row, position, name, jpeg, scores_json, "
                    "counterfeit_probability, heatmap, embedding, view) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (row, position, photo["name"], photo.get("jpeg"), json.dumps(scores),
                     scores.get("counterfeit_probability"), photo.get("heatmap"),
                     None if embedding is None else embedding.astype("float32").tobytes(),
                     photo.get("view")),
                )
            if record is not None:
                _put_record(db, row, record, problems)
        return int(row)

    def set_record(self, row: int, record: dict, problems: Sequence[dict] = ()) -> None:
        """Store (or replace) the parcel record of queue row `row`."""
        with self._write() as db:
            if db.execute("SELECT 1 FROM parcels WHERE id = ?", (row,)).fetchone() is None:
                raise KeyError(row)
            _put_record(db, row, record, problems)

    def record(self, row: int) -> dict | None:
        """The parcel record of queue row `row` with its `problems`, or None if it has none."""
        with self._connect() as db:
            hit = db.execute("SELECT * FROM parcel_records WHERE parcel_row = ?", (row,)).fetchone()
        if hit is None:
            return None
        return {**{c: hit[c] for c in PARCEL_COLUMNS}, "problems": json.loads(hit["problems_json"])}

    def decide(self, row: int, decision: str, reviewer: str, brand: str | None = None,
               note: str | None = None, override: bool = False, brand_source: str | None = None) -> dict:
        if decision not in DECISIONS:
            raise QueueError(f"decision must be one of {DECISIONS}, got {decision!r}")
        brand = (brand or "").strip().lower() or None
        if brand and brand_source not in BRAND_SOURCES:
            brand_source = "chosen"
        if brand is None:
            brand_source = None
        if not reviewer or not reviewer.strip():
            raise QueueError("reviewer is required")
        with self._write() as db:
            parcel = db.execute("SELECT * FROM parcels WHERE id = ?", (row,)).fetchone()
            if parcel is None:
                raise KeyError(row)
            if parcel["status"] == "decided" and not override:
                previous = db.execute(
                    "SELECT * FROM decisions WHERE parcel_row = ? ORDER BY id DESC LIMIT 1", (row,)
                ).fetchone()
                raise AlreadyDecided(row, dict(previous))
            did = db.execute(
                "INSERT INTO decisions (parcel_row, reviewer, decided_at, decision, brand, note, "
                "model_suggestion, model_version, override, brand_source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row, reviewer.strip(), now(), decision, brand, note or None, parcel["verdict"],
                 parcel["model_version"], int(parcel["status"] == "decided"), brand_source),
            ).lastrowid
            db.execute("UPDATE parcels SET status = 'decided' WHERE id = ?", (row,))
            return dict(db.execute("SELECT * FROM decisions WHERE id = ?", (did,)).fetchone())

    def replace_references(self, run_id: str | None, rows: Sequence[tuple]) -> None:
        """The genuine reference library of one model run, replaced as a whole (references.py)."""
        with self._write() as db:
            db.execute("DELETE FROM reference_photos WHERE model_run_id IS ?", (run_id,))
            db.executemany("INSERT INTO reference_photos (model_run_id, brand, model, view, name, listing, "
                           "jpeg, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           [(run_id, *row) for row in rows])

    # -- reading --------------------------------------------------------------------------
    def find(self, parcel_id: str, run_id: str | None) -> int | None:
        with self._connect() as db:
            hit = db.execute(
                "SELECT id FROM parcels WHERE parcel_id = ? AND model_run_id IS ?",
                (parcel_id, run_id),
            ).fetchone()
        return None if hit is None else int(hit["id"])

    def parcels(self, status: str | None = "queued", sort: str = "probability",
                descending: bool = True, filters: dict | None = None) -> list[dict]:
        """Queue rows, each with its latest decision (decision, reviewer, decided_at; None while
        queued). `filters`: any of brand, reason, model_version (exact) and search (part of a
        parcel id)."""
        if sort not in SORTS:
            raise QueueError(f"sort must be one of {sorted(SORTS)}, got {sort!r}")
        clauses, args = _filter_clauses(status, filters or {})
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "DESC" if descending else "ASC"
        with self._connect() as db:
            rows = db.execute(
                "SELECT p.id, p.parcel_id, p.created_at, p.status, p.why, p.verdict, "
                "p.counterfeit_probability, p.brand, p.model_version, "
                "(SELECT COUNT(*) FROM photos f WHERE f.parcel_row = p.id) AS n_photos, "
                "d.decision, d.reviewer, d.decided_at "
                "FROM parcels p LEFT JOIN decisions d ON d.id = "
                "(SELECT MAX(id) FROM decisions x WHERE x.parcel_row = p.id) "
                f"{where} ORDER BY {SORTS[sort]} {order}, p.id ASC",
                args,
            ).fetchall()
        return [dict(r) for r in rows]

    def facets(self) -> dict[str, list[str]]:
        """The values the queue's filters can take: brands, reasons and model versions present."""
        with self._connect() as db:
            brands = [r[0] for r in db.execute("SELECT DISTINCT brand FROM parcels WHERE brand IS NOT NULL")]
            versions = [r[0] for r in db.execute(
                "SELECT DISTINCT model_version FROM parcels WHERE model_version IS NOT NULL")]
            reasons = [r[0] for r in db.execute(
                "SELECT DISTINCT r.value FROM parcels p, json_each(p.verdict_json, '$.reasons') r")]
        return {"brand": sorted(brands), "reason": sorted(reasons), "model_version": sorted(versions)}

    def row_of(self, parcel_id: str) -> int | None:
        """The latest queue row of a parcel id (a parcel judged again by a new model is queued again)."""
        with self._connect() as db:
            hit = db.execute("SELECT MAX(id) AS id FROM parcels WHERE parcel_id = ?", (parcel_id,)).fetchone()
        return None if hit is None or hit["id"] is None else int(hit["id"])

    def parcel(self, row: int) -> dict | None:
        with self._connect() as db:
            parcel = db.execute("SELECT * FROM parcels WHERE id = ?", (row,)).fetchone()
            if parcel is None:
                return None
            photos = db.execute(
                "SELECT id, position, name, view, scores_json, counterfeit_probability, "
                "jpeg IS NOT NULL AS has_photo, heatmap IS NOT NULL AS has_heatmap "
                "FROM photos WHERE parcel_row = ? ORDER BY position", (row,)
            ).fetchall()
            decisions = db.execute(
                "SELECT * FROM decisions WHERE parcel_row = ? ORDER BY id", (row,)
            ).fetchall()
        out = dict(parcel)
        out["verdict_json"] = json.loads(out["verdict_json"])
        out["photos"] = [
            {**{k: r[k] for k in ("id", "position", "name", "view", "counterfeit_probability")},
             "scores": json.loads(r["scores_json"]), "has_photo": bool(r["has_photo"]),
             "has_heatmap": bool(r["has_heatmap"])}
            for r in photos
        ]
        out["decisions"] = [dict(d) for d in decisions]
        return out

    def image(self, photo_id: int, kind: str) -> bytes | None:
        column = {"photo": "jpeg", "heatmap": "heatmap"}[kind]  # never interpolate user input
        with self._connect() as db:
            hit = db.execute(f"SELECT {column} FROM photos WHERE id = ?", (photo_id,)).fetchone()
        return None if hit is None else hit[0]

    def photo_embedding(self, photo_id: int) -> tuple[bytes | None, str | None, str | None] | None:
        """(a queued photo's embedding, the run id of the model that judged it, its view), or None."""
        with self._connect() as db:
            row = db.execute("SELECT f.embedding, p.model_run_id, f.view FROM photos f JOIN parcels p "
                             "ON p.id = f.parcel_row WHERE f.id = ?", (photo_id,)).fetchone()
        return None if row is None else (row["embedding"], row["model_run_id"], row["view"])

    def references(self, run_id: str | None) -> list[dict]:
        with self._connect() as db:
            rows = db.execute("SELECT id, brand, model, view, name, listing, embedding FROM reference_photos "
                              "WHERE model_run_id IS ?", (run_id,)).fetchall()
        return [dict(r) for r in rows]

    def reference_jpeg(self, reference_id: int) -> bytes | None:
        with self._connect() as db:
            row = db.execute("SELECT jpeg FROM reference_photos WHERE id = ?", (reference_id,)).fetchone()
        return None if row is None else row["jpeg"]

    def audit(self) -> list[dict]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT d.*, p.parcel_id FROM decisions d JOIN parcels p ON p.id = d.parcel_row "
                "ORDER BY d.id"
            ).fetchall()
        return [dict(r) for r in rows]

    def audit_outcomes(self) -> list[dict]:
        """Every audit-drawn parcel: the model's verdict and identity, and the liaison's latest
        decision on it (None while it waits)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT p.parcel_id, p.verdict, p.model_name, p.model_version, p.model_run_id, "
                "(SELECT d.decision FROM decisions d WHERE d.parcel_row = p.id "
                "ORDER BY d.id DESC LIMIT 1) AS decision "
                "FROM parcels p WHERE p.why = 'audit' ORDER BY p.id"
            ).fetchall()
        return [dict(r) for r in rows]

    def final_decisions(self) -> list[dict]:
        """Each decided parcel with its latest decision (an override supersedes) and photos."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT d.*, p.parcel_id, p.why FROM decisions d JOIN parcels p "
                "ON p.id = d.parcel_row WHERE d.id = (SELECT MAX(id) FROM decisions x "
                "WHERE x.parcel_row = d.parcel_row) ORDER BY d.parcel_row"
            ).fetchall()
            out = []
            for r in rows:
                photos = db.execute(
                    "SELECT id, name, jpeg, view FROM photos WHERE parcel_row = ? AND jpeg IS NOT NULL "
                    "ORDER BY position", (r["parcel_row"],)
                ).fetchall()
                out.append({**dict(r), "photos": [dict(p) for p in photos]})
        return out


def _filter_clauses(status: str | None, filters: dict) -> tuple[list[str], list]:
    clauses, args = [], []
    if status:
        clauses.append("p.status = ?")
        args.append(status)
    if filters.get("brand"):
        clauses.append("p.brand = ?")
        args.append(filters["brand"])
    if filters.get("model_version"):
        clauses.append("p.model_version = ?")
        args.append(str(filters["model_version"]))
    if filters.get("reason"):
        clauses.append("EXISTS (SELECT 1 FROM json_each(p.verdict_json, '$.reasons') r WHERE r.value = ?)")
        args.append(filters["reason"])
    if filters.get("search"):
        clauses.append("instr(lower(p.parcel_id), lower(?)) > 0")
        args.append(filters["search"])
    return clauses, args


def _put_record(db: sqlite3.Connection, row: int, record: dict, problems: Sequence[dict]) -> None:
    columns = ", ".join(PARCEL_COLUMNS)
    marks = ", ".join("?" * (len(PARCEL_COLUMNS) + 2))
    db.execute(f"INSERT OR REPLACE INTO parcel_records (parcel_row, {columns}, problems_json) "
               f"VALUES ({marks})",
               (row, *(record.get(c) for c in PARCEL_COLUMNS), json.dumps(list(problems))))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def should_queue(verdict: str, audit_share: float, rng: random.Random) -> str | None:
    """'review' for every review verdict, 'audit' for a random share of the automatic ones
    (how the liaison checks the decisions nobody would otherwise look at), else None."""
    if not 0.0 <= audit_share <= 1.0:
        raise QueueError(f"audit_share must be within [0, 1], got {audit_share}")
    if verdict == "review":
        return "review"
    return "audit" if rng.random() < audit_share else None
