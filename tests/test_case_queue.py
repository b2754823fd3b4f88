"""Cases in the review queue: parcel records queued, cases linked from the queue
(`python -m infer.cases build --db`), decided and split in the review app, exported."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("splink")
pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from infer.cases.cli import main as cases_main  # noqa: E402
from infer.cases.pooling import pool_case_logits, probability  # noqa: E402
from infer.review import ReviewQueue, enqueue  # noqa: E402
from infer.review.app import create_app  # noqa: E402
from infer.review.case_store import logit  # noqa: E402
from infer.review.export import export_manifest  # noqa: E402
from tests.case_support import fill_queue, tiny_photo, verdict_for  # noqa: E402
from tests.conftest import run_module  # noqa: E402
from tests.review_support import copy_db, parcels  # noqa: E402
from train.traffic import simulate_day  # noqa: E402

BASE = "http://127.0.0.1:8765"
# Parcels of the day queued as audits (still blind): two of the seller's, two genuine.
AUDITS = 4


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """A 600-parcel day with one 90-parcel seller (the day tests/test_cases.py links), queued
    with its records, then linked through the command line."""
    day = simulate_day(600, seed=0, sellers=1, counterfeit_share=0.15)
    seller = day.loc[day["label"] == "counterfeit", "parcel_id"].tolist()
    genuine = day.loc[day["label"] == "genuine", "parcel_id"].tolist()
    audits = set(seller[:2] + genuine[:2])
    db = tmp_path_factory.mktemp("cases") / "review.db"
    # 600 enqueues are 600 commits, each synced to disk: in memory they take seconds, not tens.
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=memory) as scratch:
        filled = Path(scratch) / "review.db"
        fill_queue(filled, day, why=lambda pid: "audit" if pid in audits else "review")
        copy_db(filled, db)
    assert cases_main(["build", "--db", str(db), "--threshold", "0.9"]) == 0
    return db, day, audits


@pytest.fixture
def db(linked, tmp_path):
    return copy_db(linked[0], tmp_path / "review.db")


@pytest.fixture
def client(db):
    return TestClient(create_app(db), base_url=BASE)


def case_members(client) -> dict[str, set[str]]:
    """Every case's members (not split out), read straight from the queue file."""
    with sqlite3.connect(client.app.state.queue.path) as raw:
        rows = raw.execute("SELECT m.case_id, p.parcel_id FROM case_members m JOIN parcels p "
                           "ON p.id = m.parcel_row WHERE m.status = 'member'").fetchall()
    raw.close()
    out: dict[str, set[str]] = {}
    for case_id, parcel_id in rows:
        out.setdefault(case_id, set()).add(parcel_id)
    return out


def seller_case(client, day) -> dict:
    seller = set(day.loc[day["label"] == "counterfeit", "parcel_id"])
    members = case_members(client)
    best = max(members, key=lambda c: len(seller & members[c]))
    return client.get(f"/api/cases/{best}").json()


def decide(client, case_id, decision="counterfeit", **extra):
    return client.post(f"/api/cases/{case_id}/decision",
                       json={"decision": decision, "reviewer": "liaison", **extra})


def test_build_from_the_queue_finds_the_planted_seller(linked, client):
    _, day, audits = linked
    truth = day.set_index("parcel_id")["label"]
    case = seller_case(client, day)
    members = [m["parcel_id"] for m in case["members"]]
    labels = truth[members]
    # The seller's 90 parcels less its 2 blind audits, which are never linked.
    assert (labels == "counterfeit").sum() >= 0.9 * 88 and (labels == "genuine").sum() <= 1
    assert not audits & set().union(*case_members(client).values())
    listed = client.get("/api/cases").json()
    assert listed[0]["case_id"] == case["case_id"]  # size × probability puts the seller first
    urgency = [c["size"] * c["probability"] for c in listed]
    assert urgency == sorted(urgency, reverse=True)
    # The pooled score is the mean of the members' logits.
    scores = [m["counterfeit_probability"] for m in case["members"]]
    assert case["probability"] == pytest.approx(float(probability(pool_case_logits([logit(p) for p in scores]))))
    assert case["threshold"] == 0.9 and case["status"] == "open" and case["size"] == len(members)
    # Evidence: every stored pair carries a match weight per comparison, and the summary names
    # what linked the case with the values behind it.
    assert case["pair_count"] > len(members) and all(
        {"phone", "seller_key", "name_norm"} <= set(p["weights"]) for p in case["pairs"])
    strongest = case["linked_by_comparison"][0]
    assert strongest["mean_weight"] > 0 and strongest["values"]
    city = case["shared_attributes"]["origin_city"]
    assert city["common"][0][1] >= 0.9 * city["members_with_value"]  # one hub city
    page = client.get(f"/cases/{case['case_id']}").text
    assert "What links them" in page and "match weight" in page and "/photos/" in page
    assert "class='split'" in page and "Unsure" in page and "/cases.js" in page
    assert case["case_id"] in client.get("/cases").text
    row = case["members"][0]["id"]
    assert f"/cases/{case['case_id']}" in client.get(f"/parcels/{row}").text


def test_a_case_decision_writes_one_audited_decision_per_member(client, db, linked):
    case = seller_case(client, linked[1])
    case_id, members = case["case_id"], case["members"]
    # One member decided on its own page first keeps that decision.
    own = members[0]
    assert client.post(f"/api/parcels/{own['id']}/decision",
                       json={"decision": "genuine", "reviewer": "ana"}).status_code == 200
    first = decide(client, case_id, brand="Nike", note="one seller, rotating names")
    assert first.status_code == 200, first.text
    assert first.json()["kept"] == [own["parcel_id"]]
    audit = [a for a in client.get("/api/audit").json() if a["case_id"] == case_id]
    assert sorted(a["parcel_id"] for a in audit) == sorted(m["parcel_id"] for m in members[1:])
    assert {(a["decision"], a["brand"], a["override"], a["reviewer"]) for a in audit} == {
        ("counterfeit", "nike", 0, "liaison")}
    second = decide(client, case_id, "genuine")
    assert second.status_code == 409 and second.json()["previous"]["decision"] == "counterfeit"
    assert len(client.get("/api/audit").json()) == len(members)  # the refusal wrote nothing
    third = decide(client, case_id, "genuine", override=True)
    assert third.status_code == 200 and len(third.json()["members"]) == len(members)
    latest = {a["parcel_id"]: a for a in client.get("/api/audit").json()}
    assert all(latest[m["parcel_id"]]["override"] == 1 and latest[m["parcel_id"]]["case_id"] == case_id
               for m in members)
    shown = client.get(f"/api/cases/{case_id}").json()
    assert shown["status"] == "decided" and [d["override"] for d in shown["decisions"]] == [0, 1]
    assert case_id in [c["case_id"] for c in client.get("/api/cases", params={"status": "decided"}).json()]
    assert decide(client, "C-nope").status_code == 404
    with sqlite3.connect(db) as raw, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM case_decisions")
    raw.close()


def test_a_split_member_leaves_the_case_and_a_rebuild_keeps_it_out(client, db, linked):
    day = linked[1]
    case = seller_case(client, day)
    case_id, out = case["case_id"], case["members"][-1]["parcel_id"]
    split = client.post(f"/api/cases/{case_id}/split", json={"parcel_id": out, "reviewer": "ana",
                                                              "note": "another sender"})
    assert split.status_code == 200, split.text
    after = split.json()["case"]
    assert after["size"] == case["size"] - 1 and out not in {m["parcel_id"] for m in after["members"]}
    assert [m["parcel_id"] for m in after["split_out"]] == [out]
    assert client.post(f"/api/cases/{case_id}/split",
                       json={"parcel_id": out, "reviewer": "ana"}).status_code == 404
    # The split member is not decided with the case.
    assert decide(client, case_id).status_code == 200
    decided = {a["parcel_id"] for a in client.get("/api/audit").json()}
    assert out not in decided and len(decided) == case["size"] - 1
    assert client.post(f"/api/cases/{case_id}/split", json={
        "parcel_id": after["members"][0]["parcel_id"], "reviewer": "ana"}).status_code == 409
    # Split a member of another, open case, then link again: the decided case stays as decided,
    # no decision is lost, and the split member is kept apart from the parcels it left.
    other = [c for c in client.get("/api/cases").json() if c["size"] >= 3][0]
    left = sorted(case_members(client)[other["case_id"]])[0]
    mates = case_members(client)[other["case_id"]] - {left}
    assert client.post(f"/api/cases/{other['case_id']}/split",
                       json={"parcel_id": left, "reviewer": "ana"}).status_code == 200
    audit_before = client.get("/api/audit").json()
    assert cases_main(["build", "--db", str(db), "--threshold", "0.9"]) == 0
    assert client.get("/api/audit").json() == audit_before
    kept = client.get(f"/api/cases/{case_id}").json()
    assert kept["status"] == "decided" and kept["size"] == case["size"] - 1
    assert {m["parcel_id"] for m in kept["members"]} == {m["parcel_id"] for m in after["members"]}
    # Wherever linking puts it now, it is not a member beside the parcels it was split from.
    assert all(not (left in m and m & mates) for m in case_members(client).values())
    rebuilt = client.get(f"/api/cases/{other['case_id']}")
    if rebuilt.status_code == 200:  # same parcels linked: same case id, the split re-applied
        assert left in [m["parcel_id"] for m in rebuilt.json()["split_out"]]


def test_malformed_records_are_reported_per_parcel_and_stored_as_null(tmp_path):
    queue = ReviewQueue(tmp_path / "review.db")
    row = enqueue(queue, verdict_for("P1", 0.6), [tiny_photo(1)], audit_share=1.0, record={
        "sender_name": " Wang Wei ", "sender_phone": "+86 138 1234 5678", "weight_g": "-950",
        "dispatch_time": "yesterday-ish", "declared_value": "12.5", "path": "ignored.jpg"})
    record = queue.record(row)
    assert record["sender_name"] == "Wang Wei" and record["declared_value"] == 12.5
    assert record["weight_g"] is None and record["dispatch_time"] is None
    assert {(p["parcel_id"], p["column"], p["problem"]) for p in record["problems"]} == {
        ("P1", "weight_g", "not a positive weight"), ("P1", "dispatch_time", "not a date and time")}
    bare = enqueue(queue, verdict_for("P2", 0.6), [tiny_photo(2)], audit_share=1.0)
    assert queue.record(bare) is None


def test_enqueue_command_queues_the_manifest_parcel_columns(smoke_run, tmp_path):
    (pid, photos), = parcels(smoke_run, 1)
    # The record on the first photo's row only: a parcel's record need not be repeated.
    rows = [{"path": p, "label": "", "parcel_id": pid, "sender_name": "Li Na" if i == 0 else "",
             "sender_phone": "13812345678", "weight_g": "heavy", "dispatch_time": "2024-05-14 08:00"}
            for i, p in enumerate(photos)]
    manifest = tmp_path / "parcels.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    db = tmp_path / "review.db"
    proc = run_module(["infer.review", "enqueue", "--db", str(db), "--manifest", str(manifest),
                       "--audit-share", "1", "--no-labels"], cwd=smoke_run["work"], env=smoke_run["env"])
    assert proc.returncode == 0, proc.stderr
    assert f"{manifest}: parcel {pid}: weight_g='heavy': not a number" in proc.stderr
    queue = ReviewQueue(db)
    record = queue.record(queue.row_of(pid))
    assert record["sender_name"] == "Li Na" and record["dispatch_time"] == "2024-05-14T08:00:00"
    assert record["weight_g"] is None and record["problems"][0]["column"] == "weight_g"


def test_the_evidence_pack_holds_members_evidence_photos_and_labels(client, db, linked, tmp_path, capsys):
    case = seller_case(client, linked[1])
    case_id = case["case_id"]
    decide(client, case_id)
    out = tmp_path / "pack"
    assert cases_main(["export", case_id, "--db", str(db), "--out", str(out)]) == 0
    pack = json.loads((out / "case.json").read_text())
    assert pack["case"]["case_id"] == case_id and pack["case"]["status"] == "decided"
    assert len(pack["members"]) == case["size"] and len(pack["pairs"]) == case["pair_count"]
    assert pack["decisions"][0]["decision"] == "counterfeit" and pack["linked_by"]
    queue = ReviewQueue(db)
    for member in pack["members"]:
        for photo in member["photos"]:
            data = (out / photo["file"]).read_bytes()
            assert data == queue.image(photo["id"], "photo")
            assert hashlib.sha256(data).hexdigest() == photo["sha256"]
    with (out / "members.csv").open() as f:
        members = list(csv.DictReader(f))
    assert {m["parcel_id"] for m in members} == {m["parcel_id"] for m in case["members"]}
    assert all(m["decision_case_id"] == case_id and m["sender_name"] for m in members)
    pairs = pd.read_csv(out / "pairs.csv")
    assert len(pairs) == case["pair_count"] and "mw_phone" in pairs and pairs["mw_phone"].dtype == float
    labels = pd.read_csv(out / "labels.csv")
    read = {t for m in case["members"] for label in m["label_text"] for t in label["lines"]}
    assert read and set(labels["text"]) == read
    capsys.readouterr()
    assert cases_main(["export", "C-nope", "--db", str(db), "--out", str(tmp_path / "x")]) == 2
    assert f"{db}: no case 'C-nope' (cases there include " in capsys.readouterr().err
    assert cases_main(["export", case_id, "--db", str(db), "--out", str(out)]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert cases_main(["export", case_id, "--db", str(db), "--out", str(blocker / "pack")]) == 2
    assert f"{blocker / 'pack'}: cannot write the evidence pack there" in capsys.readouterr().err
    assert cases_main(["export", case_id, "--db", str(tmp_path / "none.db"), "--out", str(out)]) == 2
    assert "no review queue database there" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()


def test_case_api_keeps_the_token_and_cross_site_rules(db, linked):
    token = "s3cret-of-sixteen-chars"
    secured = TestClient(create_app(db, token=token, host="0.0.0.0"), base_url=BASE)
    case_id = secured.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).json()[0]["case_id"]
    url = f"/api/cases/{case_id}/decision"
    body = {"decision": "counterfeit", "reviewer": "mallory"}
    assert secured.get("/api/cases").status_code == 401
    assert secured.get(f"/cases/{case_id}").status_code == 401
    assert secured.post(url, json=body).status_code == 401
    assert secured.post(f"/api/cases/{case_id}/split", json={"parcel_id": "x", "reviewer": "m"}).status_code == 401
    client = TestClient(create_app(db), base_url=BASE)
    refused = [
        client.post(url, json=body, headers={"Origin": "http://evil.example"}),
        client.post(url, json=body, headers={"Sec-Fetch-Site": "cross-site"}),
        client.post(url, content=json.dumps(body), headers={"Content-Type": "text/plain"}),
        client.post(url, data=body),
        client.post(url, json=body, headers={"Host": "evil.example"}),
        client.post(url, content=b'{"note": "' + b"x" * 200_000 + b'"}',
                    headers={"Content-Type": "application/json"}),
        client.post(url, json={**body, "override": "yes"}),
        client.post(url, json={**body, "admin": True}),
        client.post(f"/api/cases/{case_id}/split", json={"parcel_id": 7, "reviewer": "m"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 415, 415, 400, 413, 422, 422, 422]
    assert "yes" not in refused[6].text
    assert client.get("/api/audit").json() == []
    assert client.get("/api/cases", params={"status": "odd"}).status_code == 422
    same = client.post(url, json=body, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def test_export_carries_the_case_id(client, db, linked, tmp_path):
    case = seller_case(client, linked[1])
    decide(client, case["case_id"])
    inside = {m["parcel_id"] for m in case["members"]}
    alone = next(r for r in client.get("/api/queue").json() if r["parcel_id"] not in inside)
    assert client.post(f"/api/parcels/{alone['id']}/decision",
                       json={"decision": "genuine", "reviewer": "ana"}).status_code == 200
    out = tmp_path / "reviewed.csv"
    export_manifest(db, out)
    rows = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(rows.loc[rows["parcel_id"].isin(inside), "case_id"]) == {case["case_id"]}
    assert set(rows.loc[rows["parcel_id"] == alone["parcel_id"], "case_id"]) == {""}


def test_an_older_queue_gains_the_case_tables(tmp_path):
    from infer.review.queue import SCHEMA

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        raw.executescript(SCHEMA)  # the parcel tables alone, decisions without case_id
    raw.close()
    ReviewQueue(path)
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        columns = {r[1] for r in raw.execute("PRAGMA table_info(decisions)")}
    raw.close()
    assert {"parcel_records", "cases", "case_members", "case_pairs", "case_decisions"} <= tables
    assert "case_id" in columns
