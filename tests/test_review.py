"""Review queue: enqueue (CLI and API), heatmaps, the server's API and safety, export."""

from __future__ import annotations

import io
import json
import random
import threading

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from infer.manifest import read_manifest
from infer.review import ReviewQueue, enqueue
from infer.review.app import create_app
from infer.review.export import export_manifest
from infer.review.queue import should_queue
from tests.conftest import REPO, run_module
from tests.review_support import build_queue, copy_db, parcels

BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def queued(smoke_run, tmp_path_factory):
    return build_queue(smoke_run, tmp_path_factory.mktemp("review"))


@pytest.fixture
def db(queued, tmp_path):
    return copy_db(queued[0], tmp_path / "review.db")


@pytest.fixture
def client(db):
    return TestClient(create_app(db), base_url=BASE)


def decide(client, row, decision, **extra):
    body = {"decision": decision, "reviewer": "liaison", "brand": "kestra", **extra}
    return client.post(f"/api/parcels/{row}/decision", json=body)


def test_cli_queue_puts_parcels_in_the_queue(smoke_run, tmp_path):
    db = tmp_path / "review.db"
    (pid, photos), (pid2, photos2) = parcels(smoke_run, 2)
    proc = run_module(["infer", *photos, "--parcel-id", pid, "--queue", str(db),
                       "--audit-share", "1", "--json", "--no-labels"],
                      cwd=smoke_run["work"], env=smoke_run["env"])
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    rows = ReviewQueue(db).parcels(status=None)
    assert len(rows) == 1 and rows[0]["parcel_id"] == verdict["parcel_id"]
    assert rows[0]["why"] == ("review" if verdict["verdict"] == "review" else "audit")
    # Manifest mode: every parcel judged and queued once, even when rerun, and the parcel the
    # first command queued (same id, same model run) is not queued twice.
    manifest = tmp_path / "two.csv"
    manifest.write_text("path,label,parcel_id\n" + "".join(
        f"{p},,{pid_}\n" for pid_, ps in ((pid, photos), (pid2, photos2)) for p in ps))
    args = ["infer", "--manifest", str(manifest), "--out", str(tmp_path / "v.jsonl"),
            "--queue", str(db), "--audit-share", "1", "--no-labels"]
    for _ in range(2):
        proc = run_module(args, cwd=smoke_run["work"], env=smoke_run["env"])
        assert proc.returncode == 0, proc.stderr
    ids = sorted(r["parcel_id"] for r in ReviewQueue(db).parcels(status=None))
    assert ids == sorted([pid, pid2])


def test_review_always_queued_and_audit_share_is_random_but_seeded(tmp_path):
    rng = random.Random(7)
    draws = [should_queue("genuine", 0.05, rng) for _ in range(4000)]
    assert 120 < draws.count("audit") < 280 and set(draws) <= {"audit", None}
    assert [should_queue("review", 0.0, rng) for _ in range(20)] == ["review"] * 20
    again = random.Random(7)
    assert [should_queue("genuine", 0.05, again) for _ in range(4000)] == draws
    queue = ReviewQueue(tmp_path / "q.db")
    verdict = {"parcel_id": "x", "verdict": "review", "counterfeit_probability": 0.5,
               "brand": "kestra", "photos": [], "model": {"run_id": "r"}}
    assert enqueue(queue, verdict, [], audit_share=0.0) is not None
    assert enqueue(queue, {**verdict, "parcel_id": "y", "verdict": "genuine"}, [],
                   audit_share=0.0) is None


def test_heatmaps_and_photo_copies_stored_for_queued_photos(queued):
    db, rows = queued
    queue = ReviewQueue(db)
    for row in rows:
        parcel = queue.parcel(row)
        with_maps = [p for p in parcel["photos"] if p["has_heatmap"]]
        assert len(with_maps) == min(3, len(parcel["photos"]))
        assert all(isinstance(p["scores"]["heatmap_empty"], bool) for p in with_maps)
        top = sorted(parcel["photos"], key=lambda p: -p["counterfeit_probability"])[:3]
        assert {p["id"] for p in with_maps} == {p["id"] for p in top}
        for photo in parcel["photos"]:
            img = Image.open(io.BytesIO(queue.image(photo["id"], "photo")))
            assert img.format == "JPEG" and max(img.size) <= 2048
        # The map has the photo's own shape (no letterbox bars), so the page can lay it over it.
        shown = Image.open(io.BytesIO(queue.image(with_maps[0]["id"], "photo")))
        heat = Image.open(io.BytesIO(queue.image(with_maps[0]["id"], "heatmap")))
        assert heat.format == "JPEG" and max(heat.size) == 384
        assert abs(heat.size[0] / heat.size[1] - shown.size[0] / shown.size[1]) < 0.02


def test_heatmap_box_is_where_letterbox_puts_the_photo():

    from infer.preprocess import PAD_VALUE, letterbox
    from infer.review.heatmaps import content_box

    for size in ((300, 200), (200, 300), (257, 256), (100, 100)):
        canvas = letterbox(Image.new("RGB", size, (255, 0, 0)), 64)
        top, left, h, w = content_box(size, 64)
        assert (canvas[top:top + h, left:left + w] == (255, 0, 0)).all()
        assert (canvas == PAD_VALUE).all(axis=2).sum() == 64 * 64 - h * w


def test_second_decision_409_then_override_both_in_audit(client, queued):
    row = queued[1][0]
    assert decide(client, row, "counterfeit").status_code == 200
    second = decide(client, row, "genuine")
    assert second.status_code == 409 and second.json()["previous"]["decision"] == "counterfeit"
    third = decide(client, row, "genuine", override=True)
    assert third.status_code == 200 and third.json()["override"] == 1
    audit = [a for a in client.get("/api/audit").json() if a["parcel_row"] == row]
    assert [(a["decision"], a["override"]) for a in audit] == [("counterfeit", 0), ("genuine", 1)]
    assert client.get(f"/api/parcels/{row}").json()["status"] == "decided"
    assert row not in [r["id"] for r in client.get("/api/queue").json()]


def test_queue_sorts_and_parcel_page_shows_evidence(client, queued):
    for sort in ("probability", "age", "brand"):
        rows = client.get("/api/queue", params={"sort": sort, "order": "asc"}).json()
        key = {"probability": "counterfeit_probability", "age": "created_at", "brand": "brand"}[sort]
        seen = [r[key] for r in rows if r[key] is not None]  # blind audit rows hide theirs
        assert seen == sorted(seen)
    assert client.get("/api/queue", params={"sort": "path"}).status_code == 422
    review = [r for r in client.get("/api/queue").json() if r["why"] == "review"][0]["id"]
    page = client.get(f"/parcels/{review}")
    assert page.status_code == 200 and "/heatmaps/" in page.text and "/photos/" in page.text
    assert "Why it is here:" in page.text and "<kbd>c</kbd>" in page.text
    assert "counterfeit_probability_in_band" not in page.text  # reasons are written in words
    assert client.get("/").status_code == 200


def test_audit_parcels_are_blind_until_decided(client, db):
    queue = ReviewQueue(db)
    audit = [r for r in queue.parcels("queued") if r["why"] == "audit"]
    if not audit:
        pytest.skip("the smoke model sent every parcel to review")
    row = audit[0]["id"]
    page = client.get(f"/parcels/{row}").text
    assert "answer is hidden" in page and "Model suggests" not in page and "/heatmaps/" not in page
    api = client.get(f"/api/parcels/{row}").json()
    assert api["verdict"] is None and api["counterfeit_probability"] is None and "reasons" not in api["verdict_json"]
    assert all("counterfeit_probability" not in p["scores"] for p in api["photos"])
    listed = {r["id"]: r for r in client.get("/api/queue").json()}[row]
    assert listed["verdict"] is None and listed["counterfeit_probability"] is None
    assert decide(client, row, "genuine").status_code == 200
    assert "Model suggests" in client.get(f"/parcels/{row}").text


def test_brand_is_chosen_not_prefilled_and_its_source_recorded(client, queued):
    row = queued[1][0]
    page = client.get(f"/parcels/{row}").text
    assert "<option value=''>not judged</option>" in page and "value='other'" in page
    assert "<input name='brand'" not in page  # no free box pre-filled with the model's guess
    brands = ReviewQueue(queued[0]).parcel(row)["verdict_json"]["brands"]
    assert all(f"<option value='{b}'>" in page for b in brands)
    taken = decide(client, row, "counterfeit", brand=brands[0], brand_source="model").json()
    assert taken["brand_source"] == "model"
    chosen = decide(client, queued[1][1], "counterfeit", brand="Nike").json()
    assert chosen["brand"] == "nike" and chosen["brand_source"] == "chosen"
    assert decide(client, queued[1][2], "counterfeit", brand_source="guess").status_code == 422


def test_queue_views_filters_and_addresses(client, db):
    queue = ReviewQueue(db)
    first = queue.parcels("queued")[0]
    decide(client, first["id"], "counterfeit")
    decided = client.get("/", params={"status": "decided"}).text
    assert "<th>decided at</th>" in decided and "liaison" in decided and "counterfeit" in decided
    everyone = client.get("/api/queue", params={"status": "all"}).json()
    part = first["parcel_id"][-4:]
    assert [r["parcel_id"] for r in client.get("/api/queue", params={"status": "all", "search": part}).json()] \
        == [r["parcel_id"] for r in everyone if part.lower() in r["parcel_id"].lower()]
    reason = "counterfeit_probability_in_band"
    with_reason = client.get("/api/queue", params={"status": "all", "reason": reason}).json()
    assert all(reason in queue.parcel(r["id"])["verdict_json"]["reasons"] for r in with_reason)
    by_id = client.get(f"/p/{first['parcel_id']}", follow_redirects=False)
    assert by_id.status_code == 303 and by_id.headers["location"] == f"/parcels/{first['id']}"
    missing = client.get("/parcels/999999")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert "← queue" in missing.text
    assert client.get("/p/no-such-parcel").status_code == 404
    api = client.get("/api/parcels/999999")
    assert api.status_code == 404 and api.json()["detail"] == "no parcel with id 999999"


def test_token_required_when_configured_and_off_loopback(db, tmp_path):
    token = "s3cret-of-sixteen-chars"
    with pytest.raises(ValueError, match="needs --token"):
        create_app(db, host="0.0.0.0")
    with pytest.raises(ValueError, match="at least 16 characters"):
        create_app(db, token="s3cret", host="0.0.0.0")
    proc = run_module(["infer.review", "serve", "--db", str(db), "--host", "0.0.0.0"], cwd=tmp_path)
    assert proc.returncode == 2 and "--token" in proc.stderr
    secured = TestClient(create_app(db, token=token, host="0.0.0.0"), base_url=BASE)
    assert secured.get("/api/queue").status_code == 401
    assert secured.get("/api/queue", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert secured.get("/photos/1").status_code == 401
    assert secured.get("/api/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    first = secured.get(f"/?token={token}", follow_redirects=False)
    assert first.status_code == 303 and "token" not in first.headers["location"]
    cookie = first.headers["set-cookie"]
    assert "httponly" in cookie.lower() and token not in cookie  # a value derived from it
    assert secured.get("/api/queue").status_code == 200  # the cookie now carries it
    forged = TestClient(create_app(db, token=token, host="0.0.0.0"), base_url=BASE)
    forged.cookies.set("review_token", token)  # the raw token is not what the cookie holds
    assert forged.get("/api/queue").status_code == 401
    loopback = TestClient(create_app(db, token=token), base_url=BASE)
    assert loopback.get("/api/audit").status_code == 401


def test_decision_bodies_are_small_and_strictly_typed(client, queued):
    row = queued[1][0]
    url = f"/api/parcels/{row}/decision"
    huge = client.post(url, content=b'{"note": "' + b"x" * 200_000 + b'"}',
                       headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and len(huge.content) < 500  # refused unread, nothing echoed
    loose = client.post(url, json={"decision": "genuine", "reviewer": "ana", "override": "yes"})
    assert loose.status_code == 422 and "yes" not in loose.text
    extra = client.post(url, json={"decision": "genuine", "reviewer": "ana", "admin": True})
    assert extra.status_code == 422
    assert client.get("/api/audit").json() == []


def test_paths_and_non_integer_ids_refused(client):
    assert client.get("/photos/1").status_code == 200
    for url in ("/photos/../x", "/photos/..%2Fx", "/photos/%2e%2e%2fpyproject.toml",
                "/photos/abc", "/photos/1.5", "/heatmaps/x", "/photos/99999", "/heatmaps/-1"):
        response = client.get(url)
        assert response.status_code in (404, 422), url
        assert response.headers.get("content-type") != "image/jpeg", url


def test_cross_site_writes_refused(client, queued):
    row = queued[1][0]
    body = {"decision": "genuine", "reviewer": "mallory"}
    refused = [
        client.post(f"/api/parcels/{row}/decision", json=body,
                    headers={"Origin": "http://evil.example"}),
        client.post(f"/api/parcels/{row}/decision", json=body,
                    headers={"Sec-Fetch-Site": "cross-site"}),
        client.post(f"/api/parcels/{row}/decision", content=json.dumps(body),
                    headers={"Content-Type": "text/plain"}),
        client.post(f"/api/parcels/{row}/decision", data=body),
        client.post(f"/api/parcels/{row}/decision", json=body, headers={"Host": "evil.example"}),
    ]
    assert [r.status_code for r in refused] == [403, 403, 415, 415, 400]
    assert client.get("/api/audit").json() == []
    same = client.post(f"/api/parcels/{row}/decision", json=body,
                       headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def test_concurrent_decisions_on_two_parcels_both_kept(db, queued):
    app = create_app(db)
    rows = queued[1][:2]
    barrier = threading.Barrier(2)
    codes = {}

    def worker(row, decision):
        local = TestClient(app, base_url=BASE)
        barrier.wait()
        codes[row] = decide(local, row, decision).status_code

    threads = [threading.Thread(target=worker, args=(r, d))
               for r, d in zip(rows, ("counterfeit", "genuine"), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == {rows[0]: 200, rows[1]: 200}
    audit = ReviewQueue(db).audit()
    assert sorted((a["parcel_row"], a["decision"]) for a in audit) == [
        (rows[0], "counterfeit"), (rows[1], "genuine")]


def test_export_writes_a_manifest_training_accepts(client, db, queued, tmp_path):
    a, b, c = queued[1]
    decide(client, a, "counterfeit")
    decide(client, a, "genuine", override=True)  # the override is what counts
    decide(client, b, "counterfeit", brand="Zephra", note="-sole glue marks", reviewer='=HYPERLINK("x")')
    decide(client, c, "cannot_tell")
    out = tmp_path / "export" / "reviewed.csv"
    counts = export_manifest(db, out)
    df = read_manifest(out)  # checks every photo file exists
    queue = ReviewQueue(db)
    pid = {r: queue.parcel(r)["parcel_id"] for r in (a, b, c)}
    labels = df.groupby("parcel_id")["label"].agg(set).to_dict()
    assert labels == {pid[a]: {"genuine"}, pid[b]: {"counterfeit"}}
    assert set(df.loc[df["parcel_id"] == pid[b], "brand"]) == {"zephra"}
    assert counts["cannot_tell"] == 1
    assert len(df) == len(queue.parcel(a)["photos"]) + len(queue.parcel(b)["photos"])
    assert all(Image.open(p).format == "JPEG" for p in df["path"])
    assert not any(p.startswith("/") for p in out.read_text().splitlines()[1:])
    # The note and each photo's own name travel; spreadsheet formulas are written as text.
    mine = df[df["parcel_id"] == pid[b]]
    assert set(mine["note"]) == {"'-sole glue marks"} and set(mine["reviewer"]) == {"'=HYPERLINK(\"x\")"}
    assert sorted(mine["original_name"]) == sorted(p["name"] for p in queue.parcel(b)["photos"])
    assert set(mine["brand_source"]) == {"chosen"}


def test_decisions_table_is_append_only(db, client, queued):
    import sqlite3

    decide(client, queued[1][0], "genuine")
    with sqlite3.connect(db) as raw, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE decisions SET decision = 'counterfeit'")
    with sqlite3.connect(db) as raw, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM decisions")


# Slow (~27 s: a training run); the browser test reads its own export as a training manifest.
@pytest.mark.slow
def test_training_consumes_an_exported_review_manifest(client, db, queued, smoke_run, tmp_path, new_store):
    """The loop closes: the liaison's decisions become one more training source."""
    a, b, _ = queued[1]
    decide(client, a, "counterfeit")
    decide(client, b, "genuine")
    reviewed = tmp_path / "liaison" / "reviewed.csv"
    export_manifest(db, reviewed)
    proc = run_module(
        ["train", "--config", str(REPO / "configs" / "smoke.yaml"),
         f"data.manifests=[{reviewed}:0.5]", f"output_dir={tmp_path / 'run'}",
         f"data.synthetic.out_dir={smoke_run['manifest'].parent}", "tracking.register_as=",
         "model.export_onnx=false"],
        cwd=tmp_path, env={"MLFLOW_TRACKING_URI": new_store(tmp_path)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    from mlflow import MlflowClient

    run_id = json.loads((tmp_path / "run" / "result.json").read_text())["run_id"]
    client_ = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    path = client_.download_artifacts(run_id, "data/summary.json", str(tmp_path))
    with open(path) as f:
        summary = json.load(f)
    assert any("reviewed.csv" in s for s in summary["sources"])
    photos = sum(v["by_source"].get("1:liaison", 0) for k, v in summary.items() if k in ("train", "val", "test"))
    assert photos == len(read_manifest(reviewed))


def test_the_queue_keeps_what_the_labels_said(smoke_run, tmp_path):
    db, rows = build_queue(smoke_run, tmp_path, n=1, with_tag=True)
    parcel = ReviewQueue(db).parcel(rows[0])
    verdict = parcel["verdict_json"]
    tag = [label for label in verdict["labels"] if label["fields"]["style_code"] == "555088-101"]
    assert len(tag) == 1 and tag[0]["lines"] and all(len(line["box"]) == 4 for line in tag[0]["lines"])
    checks = {check["check"]: check["outcome"] for check in verdict["label_checks"]}
    assert checks["gtin_check_digit"] == "fail" and "label_gtin_check_digit" in verdict["reasons"]
    assert verdict["verdict"] != "genuine"


def test_each_photo_is_shown_beside_its_nearest_genuine_reference(smoke_run, tmp_path):
    from infer.review.references import nearest

    db, rows = build_queue(smoke_run, tmp_path, n=2)
    manifest = read_manifest(smoke_run["manifest"])
    genuine = manifest[manifest["label"] == "genuine"]
    proc = run_module(["infer.review", "references", "--db", str(db), "--manifest", str(smoke_run["manifest"]),
                       "--model", str(smoke_run["output_dir"] / "model"), "--per-group", "1000"],
                      cwd=tmp_path, env=smoke_run["env"])
    assert proc.returncode == 0, proc.stderr
    queue = ReviewQueue(db)
    assert len(queue.references(queue.parcel(rows[0])["model_run_id"])) == len(genuine)
    # A photo of a genuine parcel is itself in the library, and finds itself.
    genuine_parcels = set(genuine["parcel_id"])
    for row in rows:
        parcel = queue.parcel(row)
        for photo in parcel["photos"]:
            ref = nearest(queue, photo["id"])
            assert ref is not None and -1.0001 <= ref["similarity"] <= 1.0001
            if parcel["parcel_id"] in genuine_parcels:
                assert ref["listing"] == parcel["parcel_id"] and ref["name"] == photo["name"]
                assert ref["similarity"] > 0.999
    client = TestClient(create_app(db), base_url=BASE)
    page = client.get(f"/parcels/{rows[0]}").text
    assert "nearest genuine reference" in page
    ref_id = nearest(queue, queue.parcel(rows[0])["photos"][0]["id"])["id"]
    image = client.get(f"/references/{ref_id}")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert client.get("/references/999999").status_code == 404


def test_reasons_are_sentences_that_name_their_photos():
    from infer.review.words import reason_lines

    verdict = {"reasons": ["not_a_shoe", "unreadable_photos", "label_gtin_check_digit", "something_new"],
               "photos": [{"path": "a.jpg", "out_of_distribution": True}, {"path": "b.jpg", "error": "x"},
                          {"path": "c.jpg", "out_of_distribution": False}],
               "label_checks": [{"check": "gtin_check_digit", "outcome": "fail", "photos": [2],
                                 "detail": "barcode number 123 has a wrong check digit"}]}
    names = {0: "side.jpg", 1: "broken.jpg", 2: "tag.jpg"}
    lines = reason_lines(verdict, names)
    assert [on for _, on in lines] == [["side.jpg"], ["broken.jpg"], ["tag.jpg"], []]
    assert lines[2][0] == "Label check failed: barcode number 123 has a wrong check digit."
    assert lines[3][0] == "Something new." and "_" not in lines[0][0]


def test_reference_is_the_nearest_of_the_photos_own_view(tmp_path):
    """A sole is compared with a genuine sole even where a side looks closer to the backbone;
    a photo of unknown view (or a view the library lacks) takes the nearest of all."""
    import numpy as np

    from infer.review.references import nearest
    from infer.review.views import view_of

    queue = ReviewQueue(tmp_path / "review.db")
    query = np.array([1.0, 0.0, 0.0], np.float32)
    photos = [{"name": name, "scores": {}, "embedding": query, "view": view_of(name)}
              for name in ("parcel_sole.jpg", "IMG_0001.jpg", "box-top.jpg")]
    row = queue.add({"parcel_id": "p1", "verdict": "review", "counterfeit_probability": 0.5,
                     "model": {"run_id": "run-a"}}, "review", photos)
    side = np.array([1.0, 0.0, 0.0], np.float32)  # as close as can be, but a side
    sole = np.array([0.6, 0.8, 0.0], np.float32)
    queue.replace_references("run-a", [
        ("nike", "aj1", "side", "side.jpg", "listing-1", b"jpeg", side.tobytes()),
        ("nike", "aj1", "sole", "sole.jpg", "listing-2", b"jpeg", sole.tobytes())])
    ids = [p["id"] for p in queue.parcel(row)["photos"]]
    assert [p["view"] for p in queue.parcel(row)["photos"]] == ["sole", None, "box"]
    chosen = [nearest(queue, i) for i in ids]
    assert chosen[0]["view"] == "sole" and chosen[0]["similarity"] == pytest.approx(0.6)
    assert chosen[1]["view"] == "side" and chosen[2]["view"] == "side"
