"""`mlflow models serve` on the registered smoke model, called over HTTP as an inspection app would."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from infer.manifest import read_manifest
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server(smoke_run):
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "models", "serve",
           "-m", "models:/counterfeit-inspector@candidate", "--env-manager", "local",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    log = (smoke_run["work"] / "serve.log").open("w")
    proc = subprocess.Popen(cmd, cwd=smoke_run["work"], env={**os.environ, **smoke_run["env"]},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail("mlflow models serve exited:\n" + (smoke_run["work"] / "serve.log").read_text()[-3000:])
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        pytest.fail("mlflow models serve did not answer /ping in 180 s")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def b64(path) -> str:
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def invocations(url: str, records: list[dict]) -> requests.Response:
    return requests.post(f"{url}/invocations", json={"dataframe_records": records}, timeout=120)


@pytest.fixture(scope="module")
def parcel(smoke_run):
    df = read_manifest(smoke_run["manifest"])
    pid = df["parcel_id"].iloc[0]
    return pid, list(df.loc[df["parcel_id"] == pid, "path"])[:3]


def test_served_model_judges_a_three_photo_parcel(server, parcel, smoke_run):
    pid, photos = parcel
    response = invocations(server, [{"parcel_id": pid, "image": b64(p)} for p in photos])
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert len(rows) == 1
    row = rows[0]
    assert row["parcel_id"] == pid and row["error"] is None
    assert row["verdict"] in {"counterfeit", "genuine", "review"}
    assert 0.0 <= row["counterfeit_probability"] <= 1.0
    assert len(row["photos"]) == 3
    assert isinstance(row["reasons"], list)
    # The verdict names the registered version that judged it (the audit trail needs it).
    registered = smoke_run["result"]["registered"]
    model = row["model"]
    assert model["name"] == "counterfeit-inspector" and model["version"] == registered["version"]


def test_served_model_reports_a_corrupt_photo_instead_of_failing(server, parcel):
    pid, photos = parcel
    records = [{"parcel_id": pid, "image": b64(p)} for p in photos[:2]]
    records.append({"parcel_id": pid, "image": base64.b64encode(b"\xff\xd8\xff not a jpeg").decode()})
    records.append({"parcel_id": "all-bad", "image": "%%% not base64 %%%"})
    response = invocations(server, records)
    assert response.status_code == 200, response.text
    rows = {r["parcel_id"]: r for r in response.json()["predictions"]}
    good = rows[pid]
    assert good["verdict"] in {"counterfeit", "genuine", "review"}
    photo_entries = good["photos"]
    assert ["error" in p for p in photo_entries] == [False, False, True]
    assert "unreadable_photos" in good["reasons"]
    bad = rows["all-bad"]
    assert bad["verdict"] is None and "no readable photo" in bad["error"]
    assert "invalid base64" in bad["error"]


def test_served_input_example_is_accepted(server, smoke_registry):
    """The example logged with the model is what the README's curl call posts."""
    import mlflow

    local = mlflow.artifacts.download_artifacts("models:/counterfeit-inspector@candidate")
    example = json.loads((Path(local) / "serving_input_example.json").read_text())
    response = requests.post(f"{server}/invocations", json=example, timeout=120)
    assert response.status_code == 200, response.text
    assert pd.DataFrame(response.json()["predictions"])["verdict"].notna().all()


def test_served_model_reads_a_size_tag_and_checks_it_against_the_dispatch_country(server, parcel, tmp_path):
    from tests.review_support import tag_photo

    pid, photos = parcel
    tag = tag_photo(tmp_path / "size-tag.jpg")  # its barcode's check digit is wrong
    records = [{"parcel_id": pid, "image": b64(p), "dispatch_country": "CN"} for p in photos[:2]]
    records.append({"parcel_id": pid, "image": b64(tag), "dispatch_country": "CN"})
    response = invocations(server, records)
    assert response.status_code == 200, response.text
    row = response.json()["predictions"][0]
    labels = row["labels"]
    read = {label["photo"]: label for label in labels}
    assert read[2]["fields"]["made_in"] == "VIETNAM" and read[2]["fields"]["style_code"] == "555088-101"
    checks = {check["check"]: check for check in row["label_checks"]}
    assert checks["gtin_check_digit"]["outcome"] == "fail" and checks["gtin_check_digit"]["photos"] == [2]
    assert checks["made_in_vs_dispatch"]["outcome"] == "fail"
    reasons = row["reasons"]
    assert "label_gtin_check_digit" in reasons and row["verdict"] != "genuine"


def test_served_model_refuses_rows_without_a_parcel_and_nested_fields_are_json(server, parcel):
    pid, photos = parcel
    refused = invocations(server, [{"image": b64(photos[0])}, {"parcel_id": pid, "image": b64(photos[1])}])
    assert refused.status_code == 400 and "parcel_id" in refused.text
    row = invocations(server, [{"parcel_id": pid, "image": "data:image/jpeg;base64," + b64(photos[0])}]).json()
    row = row["predictions"][0]
    assert row["error"] is None and isinstance(row["photos"], list) and isinstance(row["model"], dict)
