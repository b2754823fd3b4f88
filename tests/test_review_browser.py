"""The review page in a real browser: headless Debian Chromium driven by Playwright against the
real server process, deciding with the keyboard shortcut."""

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
    db, rows = build_queue(smoke_run, tmp_path, n=1, with_tag=True)
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
    yield {"base": base, "db": db, "row": rows[0]}
    proc.terminate()
    proc.wait(10)


def test_decide_with_keyboard_shortcut_and_export(server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (Debian package `chromium`; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev extra) not installed")
    base, row = server["base"], server["row"]
    shot = tmp_path / "parcel-page.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/parcels/{row}?token={TOKEN}")  # sets the cookie, drops the token
            assert "token" not in page.url
            page.wait_for_function(
                "[...document.images].length > 0 && "
                "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
            assert page.locator("img.heatmap").count() >= 1
            assert page.locator("img.evidence").count() >= 1
            # The size tag's read lines are boxed on its photo, and the checks say what failed.
            assert page.locator("svg.boxes polygon").count() >= 3
            assert page.locator("table.checks td.fail").count() >= 1
            assert "barcode number 885259846194 has a wrong check digit" in page.content()
            page.fill("input[name=reviewer]", "browser liaison")
            page.fill("textarea[name=note]", "sole glue looks wrong")
            page.locator("h1").click()  # leave the text field so the shortcut is not typed
            page.keyboard.press("c")
            page.wait_for_selector("#status[data-decided='counterfeit']", timeout=10_000)
            page.screenshot(path=str(shot), full_page=True)
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
    assert [(a["parcel_row"], a["decision"], a["reviewer"], a["note"]) for a in audit] == [
        (row, "counterfeit", "browser liaison", "sole glue looks wrong")]
    out = tmp_path / "export" / "reviewed.csv"
    proc = run_module(["infer.review", "export", "--db", str(server["db"]), "--out", str(out)],
                      cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    df = read_manifest(out)
    assert set(df["label"]) == {"counterfeit"} and df["parcel_id"].nunique() == 1
    assert set(df["parcel_id"]) == {audit[0]["parcel_id"]}
