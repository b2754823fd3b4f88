"""The band check: does the audit sample show the review band holding, broken, or not yet?"""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from infer.bounds import error_lower_bound, error_upper_bound
from infer.review.__main__ import main
from infer.review.app import create_app
from infer.review.monitor import audits_needed, band_check
from infer.review.queue import ReviewQueue


def _verdict(pid, verdict, version):
    return {"parcel_id": pid, "verdict": verdict, "counterfeit_probability": 0.99 if verdict == "counterfeit" else 0.01,
            "brand": "kestra", "photos": [], "model": {"name": "ci", "version": version, "run_id": f"run{version}"}}


def fill(queue: ReviewQueue, version: str, audited: int, wrong: int, waiting: int = 0, cannot_tell: int = 0):
    """Audit parcels of one model version; the first `wrong` are decided against the model."""
    for i in range(audited + waiting + cannot_tell):
        verdict = "counterfeit" if i % 2 else "genuine"
        row = queue.add(_verdict(f"v{version}-{i}", verdict, version), "audit", [])
        if i < audited:
            other = "genuine" if verdict == "counterfeit" else "counterfeit"
            queue.decide(row, other if i < wrong else verdict, "liaison")
        elif i < audited + cannot_tell:
            queue.decide(row, "cannot_tell", "liaison")


@pytest.fixture
def queue(tmp_path):
    q = ReviewQueue(tmp_path / "review.db")
    fill(q, "1", audited=150, wrong=0, waiting=3, cannot_tell=2)   # enough clean audits: holding
    fill(q, "2", audited=100, wrong=10)                            # 10% wrong against 2%: breached
    fill(q, "3", audited=20, wrong=0)                              # too few to tell
    # Review parcels are not a random sample of decided ones: never counted.
    for i in range(5):
        queue_row = q.add(_verdict(f"r{i}", "review", "1"), "review", [])
        q.decide(queue_row, "counterfeit", "liaison")
    return q


def test_statuses_follow_the_bounds(queue):
    report = band_check(queue, 0.02, 0.1)
    by = {m["model"]["version"]: m for m in report["models"]}
    assert by["1"]["status"] == "holding" and by["1"]["audited"] == 150
    assert (by["1"]["waiting"], by["1"]["cannot_tell"], by["1"]["errors"]) == (3, 2, 0)
    assert by["2"]["status"] == "breached" and by["2"]["error"] == pytest.approx(0.1)
    assert len(by["2"]["wrong_parcels"]) == 10
    assert by["3"]["status"] == "undecided"
    assert report["error_free_audits_to_hold"] == audits_needed(0.02, 0.1) == 114


def test_an_override_counts_as_the_liaisons_decision(queue):
    row = queue.add(_verdict("late", "genuine", "3"), "audit", [])
    queue.decide(row, "genuine", "liaison")
    before = {m["model"]["version"]: m for m in band_check(queue)["models"]}["3"]["errors"]
    queue.decide(row, "counterfeit", "senior", override=True)
    after = {m["model"]["version"]: m for m in band_check(queue)["models"]}["3"]
    assert after["errors"] == before + 1 and "late" in after["wrong_parcels"]


def test_breach_is_rarely_claimed_when_the_band_holds_exactly():
    """With the true error at the target, `breached` (lower bound above it) must come up in at
    most delta of audit samples, whatever their size."""
    rng = np.random.default_rng(0)
    target, delta = 0.02, 0.1
    for n in (50, 300, 2000):
        errors = rng.binomial(n, target, size=2000)
        claimed = np.mean([error_lower_bound(int(k), n, delta) > target for k in errors])
        covered = np.mean([error_upper_bound(int(k), n, delta) >= target for k in errors])
        assert claimed <= delta and covered >= 1 - delta


def test_cli_exit_status_and_api(queue, tmp_path, capsys):
    assert main(["band-check", "--db", str(queue.path)]) == 1  # version 2 is breached
    assert {m["status"] for m in json.loads(capsys.readouterr().out)["models"]} == set(
        ("holding", "breached", "undecided"))
    clean = ReviewQueue(tmp_path / "clean.db")
    fill(clean, "1", audited=150, wrong=0)
    assert main(["band-check", "--db", str(clean.path)]) == 0
    capsys.readouterr()
    client = TestClient(create_app(queue.path), base_url="http://127.0.0.1:8765")
    body = client.get("/api/band-check", params={"target_error": 0.05}).json()
    assert body["target_error"] == 0.05 and len(body["models"]) == 3
    assert client.get("/api/band-check", params={"target_error": 2}).status_code == 422
    page = client.get("/").text
    assert "Band check" in page and "breached" in page and "10 of 100 audited" in page
