"""The review page in a real browser: headless Debian Chromium driven by Playwright against the
real server process, worked the way a liaison works: keys to decide, move on and undo, the
photo opened full size, heatmaps laid over the photos."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from infer.manifest import read_manifest
from tests.conftest import REPO, run_module
from tests.review_support import build_queue

CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "browser-test-token-0123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def server(smoke_run, tmp_path):
    db, rows = build_queue(smoke_run, tmp_path, n=2, with_tag=True)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "infer.review", "serve", "--db", str(db), "--port", str(port),
         "--token", TOKEN],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            _get(f"{base}/api/queue")
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"review server did not start: {proc.communicate()[1][-2000:]}")
            time.sleep(0.3)
    yield {"base": base, "db": db, "row": rows[0], "next": rows[1]}
    proc.terminate()
    proc.wait(10)


def test_decide_with_keys_move_on_undo_and_export(server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package `chromium`; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) not installed")
    from infer.review import ReviewQueue

    base, row, nxt = server["base"], server["row"], server["next"]
    blind = ReviewQueue(server["db"]).parcel(row)["why"] == "audit"
    shot = tmp_path / "parcel-page.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{base}/parcels/{row}?token={TOKEN}")  # sets the cookie, drops the token
            assert "token" not in page.url
            page.wait_for_function(
                "[...document.querySelectorAll('img.evidence')].every(i => i.complete && i.naturalWidth > 0)")
            # The decision area is on the first screen, at laptop and at tablet width.
            for width in (1366, 800):
                page.set_viewport_size({"width": width, "height": 768})
                box = page.locator("#decide").bounding_box()
                assert box["y"] < 768 and box["x"] + 100 < width, (width, box)
            page.set_viewport_size({"width": 1366, "height": 768})
            if blind:  # an audit parcel: judged without the model's answer
                assert page.locator("img.heatmap").count() == 0 and "answer is hidden" in page.content()
            else:
                assert page.locator("img.heatmap").count() >= 1 and not page.locator("img.heatmap").first.is_visible()
                page.locator("h1").click()
                page.keyboard.press("h")  # heatmaps laid over the photos
                assert page.locator("img.heatmap").first.is_visible()
            # The size tag's read lines are boxed on its photo, and the checks say what failed.
            assert page.locator("svg.boxes polygon").count() >= 3
            assert page.locator("table.checks td.fail").count() >= 1
            assert "barcode number 885259846194 has a wrong check digit" in page.content()
            page.locator("img.evidence").first.click()  # full size, then closed again
            assert page.locator("#viewer").is_visible()
            page.keyboard.press("Escape")
            assert not page.locator("#viewer").is_visible()
            page.keyboard.press("?")
            assert page.locator("#help").is_visible() and "undo" in page.locator("#help").inner_text()
            page.keyboard.press("Escape")
            page.fill("input[name=reviewer]", "browser liaison")
            page.fill("textarea[name=note]", "sole glue looks wrong")
            page.select_option("select[name=brand]", index=1)
            page.locator("h1").click()  # leave the text field so the shortcut is not typed
            page.screenshot(path=str(shot), full_page=True)
            page.keyboard.press("c")  # recorded, and on to the next queued parcel
            page.wait_for_url(f"**/parcels/{nxt}", timeout=10_000)
            page.wait_for_selector("#toast:not([hidden])", timeout=5_000)
            assert "Recorded counterfeit" in page.locator("#toast").inner_text()
            page.keyboard.press("z")  # undo: back, override ticked
            page.wait_for_url(f"**/parcels/{row}?redo=1", timeout=10_000)
            assert page.locator("input[name=override]").is_checked()
            page.locator("h1").click()
            page.keyboard.press("g")
            page.wait_for_url(f"**/parcels/{nxt}", timeout=10_000)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    # Tests write nothing tracked: the README's screenshot is a copy made on purpose, with
    # REVIEW_SCREENSHOT=experiments/review-page/parcel-page.png.
    if os.environ.get("REVIEW_SCREENSHOT"):
        target = Path(os.environ["REVIEW_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, target)

    audit = _get(f"{base}/api/audit")
    assert [(a["parcel_row"], a["decision"], a["reviewer"], a["override"]) for a in audit] == [
        (row, "counterfeit", "browser liaison", 0), (row, "genuine", "browser liaison", 1)]
    assert audit[0]["note"] == "sole glue looks wrong" and audit[0]["brand_source"] == "chosen"
    out = tmp_path / "export" / "reviewed.csv"
    proc = run_module(["infer.review", "export", "--db", str(server["db"]), "--out", str(out)],
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    df = read_manifest(out)
    assert set(df["label"]) == {"genuine"} and df["parcel_id"].nunique() == 1  # the override counts
    assert set(df["parcel_id"]) == {audit[0]["parcel_id"]}
