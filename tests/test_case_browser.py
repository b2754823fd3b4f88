"""The case page in a real browser: headless Debian Chromium driven by Playwright against the
real server process, on a queue linked into cases by the real build. The liaison opens the
largest case, splits one parcel out of it and decides the rest with one key."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("splink")
pytest.importorskip("fastapi")

from infer.cases.cli import main as cases_main  # noqa: E402
from tests.case_support import fill_queue  # noqa: E402
from tests.review_support import copy_db, get_json, review_server  # noqa: E402
from train.traffic import simulate_day  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "case-browser-token-0123"
REVIEWER = "browser liaison"
# Enough parcels for the seller's parcels to link into a case of several (one to split out, the
# rest to decide), few enough that queueing and linking take seconds.
PARCELS = 120
SHOT = "case-page.png"


def _get(url: str):
    return get_json(url, TOKEN)


@pytest.fixture
def server(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package `chromium`; .ci/run installs it)")
    pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) not installed")
    day = simulate_day(PARCELS, seed=0, sellers=1, counterfeit_share=0.15)
    db = tmp_path / "review.db"
    # Each enqueue is a commit synced to disk: in memory the day is queued in about a second.
    memory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=memory) as scratch:
        filled = Path(scratch) / "review.db"
        fill_queue(filled, day)
        copy_db(filled, db)
    assert cases_main(["build", "--db", str(db)]) == 0
    with review_server(db, TOKEN, tmp_path, ready="/api/cases") as base:
        yield base


def _press(page, key: str) -> None:
    page.locator("h1").click()  # leave any text field so the key is a shortcut, not typing
    page.keyboard.press(key)


def test_split_a_member_then_decide_the_case_with_a_key(server, tmp_path):
    from playwright.sync_api import sync_playwright

    base = server
    listed = _get(f"{base}/api/cases")
    largest = max(c["size"] for c in listed)
    assert largest >= 3, listed  # one member split out still leaves a case to decide
    shots = tmp_path / "shots"
    shots.mkdir()
    asked = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
            page.goto(f"{base}/cases?token={TOKEN}")  # sets the cookie, drops the token
            assert "token" not in page.url
            rows = page.locator("table tr:has(a[href^='/cases/'])")
            assert rows.count() == len(listed)
            sizes = [int(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count())]
            rows.nth(sizes.index(max(sizes))).locator("a[href^='/cases/']").click()
            page.wait_for_url("**/cases/C-*")
            case_id = page.url.rsplit("/", 1)[-1]
            assert max(sizes) == largest and case_id in {c["case_id"] for c in listed if c["size"] == largest}
            splits = page.locator("button.split")
            assert splits.count() == largest

            _press(page, "?")
            assert page.locator("#help").is_visible() and "cannot tell" in page.locator("#help").inner_text()
            page.keyboard.press("Escape")
            assert not page.locator("#help").is_visible()
            # A fresh browser has no name kept: the key asks for one and records nothing.
            assert page.locator("input[name=reviewer]").input_value() == ""
            _press(page, "c")
            page.wait_for_function("document.getElementById('status').textContent.includes('Enter your name')")
            assert _get(f"{base}/api/audit") == []

            page.fill("input[name=reviewer]", REVIEWER)
            out = splits.last.get_attribute("data-parcel-id")
            splits.last.click()
            page.wait_for_selector("h2:has-text('Split out')", timeout=10_000)
            assert asked == [f"Split parcel {out} out of this case?"]
            assert page.locator("button.split").count() == largest - 1
            assert out in page.locator("h2:has-text('Split out') + ul").inner_text()
            # The name typed before the split came back from localStorage after the reload.
            assert page.locator("input[name=reviewer]").input_value() == REVIEWER
            members = [page.locator("button.split").nth(i).get_attribute("data-parcel-id")
                       for i in range(largest - 1)]
            assert out not in members
            page.wait_for_function(
                "[...document.querySelectorAll('img.evidence')].every(i => i.complete && i.naturalWidth > 0)")
            page.evaluate("window.scrollTo(0, 0)")  # the case's summary and what links it
            page.screenshot(path=str(shots / SHOT))

            _press(page, "c")
            page.wait_for_selector("#toast:not([hidden])", timeout=10_000)
            assert page.locator("#toast").inner_text() == (
                f"Recorded counterfeit for {largest - 1} parcels of case {case_id}")
            assert f"counterfeit by {REVIEWER}" in page.locator("h2:has-text('Decision') + ul").inner_text()
            assert page.locator("button.split").count() == 0  # a decided case cannot be split
            # The parcel page keeps the same name.
            split_row = next(m["id"] for m in _get(f"{base}/api/cases/{case_id}")["split_out"])
            page.goto(f"{base}/parcels/{split_row}")
            assert page.locator("input[name=reviewer]").input_value() == REVIEWER
        finally:
            browser.close()
    assert (shots / SHOT).stat().st_size > 10_000
    # Tests write nothing tracked: a copy is kept only on request.
    if os.environ.get("REVIEW_SCREENSHOTS"):
        target = Path(os.environ["REVIEW_SCREENSHOTS"])
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(shots / SHOT, target / SHOT)

    audit = _get(f"{base}/api/audit")
    assert len(audit) == largest - 1  # one decision per remaining member, none for the split one
    assert sorted(a["parcel_id"] for a in audit) == sorted(members)
    assert {(a["case_id"], a["decision"], a["reviewer"], a["override"]) for a in audit} == {
        (case_id, "counterfeit", REVIEWER, 0)}
    case = _get(f"{base}/api/cases/{case_id}")
    assert case["status"] == "decided" and case["size"] == largest - 1
    assert [m["parcel_id"] for m in case["split_out"]] == [out]
    assert _get(f"{base}/api/parcels/{split_row}")["status"] == "queued"
