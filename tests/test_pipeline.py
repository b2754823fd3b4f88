"""train -> register -> load -> inspect, through the real entry points, on the smoke config."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from PIL import Image

from infer import Inspector
from infer.manifest import read_manifest
from tests.conftest import REPO, free_port, run_module
from train.config import ConfigError, load_config

TEST_METRICS = ("test/photo_auroc", "test/parcel_auroc", "test/brand_accuracy", "test/ece")


@pytest.fixture(scope="module", autouse=True)
def client(smoke_registry):
    return MlflowClient(tracking_uri=smoke_registry)


@pytest.fixture(scope="module")
def parcel_photos(smoke_run):
    df = read_manifest(smoke_run["manifest"])
    pid = df["parcel_id"].iloc[0]
    return list(df.loc[df["parcel_id"] == pid, "path"])[:3]


def test_run_logs_config_metrics_and_plots(smoke_run, client):
    run = client.get_run(smoke_run["result"]["run_id"])
    for name in TEST_METRICS:
        assert name in run.data.metrics, name
        assert 0.0 <= run.data.metrics[name] <= 1.0
    assert run.data.params["model.name"] == "tf_efficientnet_lite0"
    assert run.data.params["train.epochs"] == "1"
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert len(history) == 1 and history[0].step == 0
    assert client.get_metric_history(run.info.run_id, "val/parcel_auroc")
    artifacts = {f.path for f in client.list_artifacts(run.info.run_id, "evaluation")}
    for name in ("roc.png", "reliability.png", "confusion_counterfeit.png", "confusion_brand.png"):
        assert f"evaluation/{name}" in artifacts
    top = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert "config" in top and "data" in top
    data = {f.path for f in client.list_artifacts(run.info.run_id, "data")}
    assert "data/preview.png" in data


def test_run_calibrates_parcels_and_chooses_a_review_band_on_validation(smoke_run, client):
    run = client.get_run(smoke_run["result"]["run_id"])
    for name in ("calibration/parcel_a", "calibration/parcel_b", "band/coverage", "band/error",
                 "band/error_upper_bound", "test/auto_coverage", "test/auto_error"):
        assert name in run.data.metrics, name
    meta = json.loads((smoke_run["output_dir"] / "model" / "inspector.json").read_text())
    band = meta["band"]
    assert band["target_error"] == 0.02
    # The shipped thresholds are the band's, not the config's fixed 0.2 / 0.8.
    assert meta["thresholds"]["genuine_below"] == pytest.approx(band["genuine_below"])
    assert meta["thresholds"]["counterfeit_above"] == pytest.approx(band["counterfeit_above"])
    # Uncertified (a smoke model on a handful of parcels): everything goes to a person.
    if band["n_auto"] == 0:
        assert meta["thresholds"]["genuine_below"] == 0.0 and meta["thresholds"]["counterfeit_above"] == 1.0
    assert meta["parcel_calibration"]["a"] > 0
    # What the counterfeit head learned from: synthetic brands, no model names.
    from train.synthetic import BRANDS

    trained = meta["counterfeit_trained"]
    assert trained["brands"] and set(trained["brands"]) <= set(BRANDS) and trained["models"] == []
    # The validation parcels the band was chosen on are kept, and re-choosing it at the run's
    # own target gives back the shipped band.
    out = run_module(["train.band", str(smoke_run["output_dir"]), "--targets", "0.02"], cwd=REPO)
    assert out.returncode == 0, out.stderr
    (again,) = json.loads(out.stdout)["bands"]
    assert again["confidence"] == pytest.approx(band["confidence"])
    assert again["val_parcels"] == band["n"]


def test_model_registered_with_candidate_alias(smoke_run, client):
    mv = client.get_model_version_by_alias("counterfeit-inspector", "candidate")
    assert mv.run_id == smoke_run["result"]["run_id"]
    assert str(mv.version) == smoke_run["result"]["registered"]["version"]


def test_model_files_are_safetensors_and_json_only(smoke_run):
    local = Path(mlflow.artifacts.download_artifacts("models:/counterfeit-inspector@candidate"))
    files = {p.name for p in local.rglob("*") if p.is_file()}
    assert "weights.safetensors" in files and "inspector.json" in files
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".pt", ".pth", ".cloudpickle"))]
    meta = json.loads(next(local.rglob("inspector.json")).read_text())
    assert meta["pooling"] and meta["net"]["brands"]


def test_inspect_python_api_with_paths_bytes_and_pil(smoke_run, parcel_photos):
    inspector = Inspector.load("models:/counterfeit-inspector@candidate", labels=False)
    as_paths = inspector.inspect(parcel_photos, parcel_id="p1")
    as_bytes = inspector.inspect([Path(p).read_bytes() for p in parcel_photos], parcel_id="p1")
    as_pil = inspector.inspect([Image.open(p) for p in parcel_photos], parcel_id="p1")
    d = as_paths.to_dict()
    assert d["verdict"] in ("counterfeit", "genuine", "review")
    assert d["brand"] in inspector.brands
    assert d["model"]["version"] == smoke_run["result"]["registered"]["version"]
    assert d["model"]["run_id"] == smoke_run["result"]["run_id"]
    assert len(d["photos"]) == 3
    assert as_bytes.counterfeit_probability == pytest.approx(as_paths.counterfeit_probability, abs=1e-5)
    assert as_pil.counterfeit_probability == pytest.approx(as_paths.counterfeit_probability, abs=1e-5)


def test_cli_judges_three_photos(smoke_run, parcel_photos):
    proc = run_module(["infer", *parcel_photos, "--json"], cwd=smoke_run["work"], env=smoke_run["env"])
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) >= {"parcel_id", "verdict", "counterfeit_probability", "brand",
                        "brand_probability", "photos", "model"}
    assert out["verdict"] in ("counterfeit", "genuine", "review")
    assert 0.0 <= out["counterfeit_probability"] <= 1.0
    assert [p["path"] for p in out["photos"]] == parcel_photos
    for photo in out["photos"]:
        assert set(photo) == {"path", "counterfeit_probability", "brand", "brand_probability",
                              "out_of_distribution"}
        assert isinstance(photo["out_of_distribution"], bool)
    assert set(out["model"]) == {"name", "version", "run_id"}
    assert out["model"]["name"] == "counterfeit-inspector"


def test_cli_onnx_backend_gives_the_same_verdict(smoke_run, parcel_photos):
    verdicts = []
    for backend in ("torch", "onnx"):
        proc = run_module(["infer", *parcel_photos, "--json", "--no-labels", "--backend", backend],
                          cwd=smoke_run["work"], env=smoke_run["env"])
        assert proc.returncode == 0, proc.stderr
        verdicts.append(json.loads(proc.stdout))
    torch_v, onnx_v = verdicts
    assert torch_v["verdict"] == onnx_v["verdict"]
    assert abs(torch_v["counterfeit_probability"] - onnx_v["counterfeit_probability"]) < 1e-4


def test_cli_with_bad_files_still_judges_the_rest(smoke_run, parcel_photos, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("this is not a photo\n")
    proc = run_module(
        ["infer", *parcel_photos, str(empty), str(text), "--json", "--no-labels"],
        cwd=smoke_run["work"], env=smoke_run["env"],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    errors = {p["path"]: p["error"] for p in out["photos"] if "error" in p}
    assert set(errors) == {str(empty), str(text)}
    assert "empty" in errors[str(empty)] and "not an image" in errors[str(text)]
    assert "unreadable_photos" in out["reasons"]
    assert out["verdict"] in ("counterfeit", "genuine", "review")


def test_cli_with_only_bad_files_fails_naming_each(smoke_run, tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("this is not a photo\n")
    proc = run_module(["infer", str(empty), str(text)], cwd=smoke_run["work"], env=smoke_run["env"])
    assert proc.returncode != 0
    assert str(empty) in proc.stderr and "empty file" in proc.stderr
    assert str(text) in proc.stderr and "not an image" in proc.stderr
    assert proc.stdout.strip() == ""


def test_cli_manifest_mode_writes_one_line_per_parcel(smoke_run, tmp_path):
    # Two parcels, labels read: every photo's print costs a second or so on 2 cores.
    df = pd.read_csv(smoke_run["manifest"])
    df = df[df["parcel_id"].isin(df["parcel_id"].unique()[:2])]
    df["path"] = [str(smoke_run["manifest"].parent / p) for p in df["path"]]
    manifest = tmp_path / "parcels.csv"
    df.to_csv(manifest, index=False)
    out = tmp_path / "verdicts.jsonl"
    args = ["infer", "--manifest", str(manifest), "--out", str(out)]
    proc = run_module(args, cwd=smoke_run["work"], env=smoke_run["env"])
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    n_parcels = df["parcel_id"].nunique()
    assert len(lines) == n_parcels == len({x["parcel_id"] for x in lines})
    assert all("labels" in x and "label_checks" in x for x in lines)  # batch mode reads labels too
    again = run_module(args, cwd=smoke_run["work"], env=smoke_run["env"])
    assert again.returncode == 0
    assert len(out.read_text().splitlines()) == n_parcels  # resumed: nothing written twice


def test_evaluate_prints_one_json_object(smoke_run):
    proc = run_module(
        ["train.evaluate", "--model", "models:/counterfeit-inspector@candidate",
         "--manifest", str(smoke_run["manifest"])],
        cwd=smoke_run["work"], env=smoke_run["env"],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("photo_auroc", "parcel_auroc", "brand_accuracy", "ece", "n_photos", "n_parcels"):
        assert key in out
    assert out["n_photos"] == len(pd.read_csv(smoke_run["manifest"]))
    assert out["backend"] == "onnx"  # what the app runs: the smoke package ships its graph


def test_evaluate_brand_only_manifest_has_no_label_metrics(smoke_run, tmp_path):
    df = pd.read_csv(smoke_run["manifest"])
    brand_only = tmp_path / "brands.csv"
    images = smoke_run["manifest"].parent
    df.assign(path=[str(images / p) for p in df["path"]])[["path", "brand"]].to_csv(brand_only, index=False)
    proc = run_module(
        ["train.evaluate", "--model", str(smoke_run["output_dir"] / "model"), "--manifest", str(brand_only)],
        cwd=smoke_run["work"], env=smoke_run["env"],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "brand_accuracy" in out and "parcel_auroc" not in out and "ece" not in out


def test_pyfunc_predicts_parcels_from_dataframe(smoke_run, parcel_photos):
    folder = str(Path(os.path.commonpath(parcel_photos)))
    model = mlflow.pyfunc.load_model("models:/counterfeit-inspector@candidate",
                                     model_config={"photo_folder": folder})
    frame = pd.DataFrame({
        "parcel_id": ["a", "a", "b"],
        "path": [parcel_photos[0], parcel_photos[1], None],
        "image": [None, None, base64.b64encode(Path(parcel_photos[2]).read_bytes()).decode()],
    })
    out = model.predict(frame)
    assert list(out["parcel_id"]) == ["a", "b"]
    assert set(out["verdict"]) <= {"counterfeit", "genuine", "review"}
    assert len(out.loc[0, "photos"]) == 2
    # Served through onnxruntime by default; eager PyTorch on request, same answer.
    assert model.unwrap_python_model().inspector.onnx is not None
    eager = mlflow.pyfunc.load_model("models:/counterfeit-inspector@candidate",
                                     model_config={"backend": "torch", "photo_folder": folder})
    assert eager.unwrap_python_model().inspector.onnx is None
    again = eager.predict(frame)
    assert np.allclose(again["counterfeit_probability"].astype(float),
                       out["counterfeit_probability"].astype(float), atol=1e-4)


def test_infer_without_registered_model_says_so(tmp_path, new_store):
    env = {"MLFLOW_TRACKING_URI": new_store(tmp_path, "empty.db")}
    photo = tmp_path / "x.png"
    Image.new("RGB", (32, 32)).save(photo)
    proc = run_module(["infer", str(photo)], cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "no registered model" in proc.stderr


def test_readme_opens_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    first_block = text.split("```")[1]  # the first fenced block: the fresh-machine commands
    assert "pip install" in first_block and "python -m train" in first_block
    assert "python -m infer" in first_block and "python -m pytest" in first_block
    assert "python -m pytest" in (REPO / ".ci" / "run").read_text()


def test_run_writes_its_test_split_as_a_holdout_manifest(smoke_run, tmp_path):
    # One manifest per source, named after the source's folder.
    (holdout,) = (smoke_run["output_dir"] / "holdout").glob("*.csv")
    assert holdout.stem == smoke_run["manifest"].parent.name
    held = read_manifest(holdout)
    tested = pd.read_csv(smoke_run["output_dir"] / "test_photos.csv")
    assert sorted(held["path"]) == sorted(tested["path"])
    # split.csv names every photo's split: its test rows are the holdout, no parcel is split.
    split = pd.read_csv(smoke_run["output_dir"] / "split.csv")
    assert len(split) == len(read_manifest(smoke_run["manifest"]))
    assert set(split["split"]) == {"train", "val", "test"}
    assert sorted(split.loc[split["split"] == "test", "path"]) == sorted(held["path"])
    assert (split.groupby("parcel_id")["split"].nunique() == 1).all()
    scores = tmp_path / "scores" / "photos.csv"
    proc = run_module(
        ["train.evaluate", "--model", str(smoke_run["output_dir"] / "model"), "--manifest", str(holdout),
         "--by", "view", "--photos-out", str(scores)],
        cwd=smoke_run["work"], env=smoke_run["env"],
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["n_photos"] == len(held)
    # Photo by photo, the shipped model scores what the run scored at its end.
    per_photo = pd.read_csv(scores).merge(tested[["path", "logit"]], on="path", suffixes=("", "_run"))
    assert len(per_photo) == len(held)
    np.testing.assert_allclose(per_photo["logit"], per_photo["logit_run"], atol=1e-3)
    # The same parcels through the shipped model give the run's own test numbers: pooling and
    # parcel recalibration included (ECE is measured on the probability the app is given).
    parcels = pd.read_csv(smoke_run["output_dir"] / "test_parcels.csv")
    from train.metrics import ece

    assert out["ece"] == pytest.approx(ece(parcels["target"], parcels["prob"]), abs=1e-3)
    assert out["parcel_auroc"] == pytest.approx(smoke_run["result"]["test"]["parcel_auroc"], abs=1e-3)
    assert set(out["by"]) == set(held["view"])
    assert sum(v["n_photos"] for v in out["by"].values()) == len(held)
    bad = run_module(
        ["train.evaluate", "--model", str(smoke_run["output_dir"] / "model"), "--manifest", str(holdout),
         "--by", "colour"],
        cwd=smoke_run["work"], env=smoke_run["env"],
    )
    assert bad.returncode == 2 and "colour" in bad.stderr


def test_run_folds_must_not_exceed_folds():
    with pytest.raises(ConfigError, match="data.run_folds"):
        load_config(REPO / "configs" / "smoke.yaml", ["data.folds=3", "data.run_folds=4"])


def test_cross_validation_resumes_and_logs_a_parent_with_one_child_per_fold(smoke_run, tmp_path, new_store):
    """A CV run of the first fold only (`data.run_folds=1`), killed as fold 1 began, then run
    again with `resume=auto`: fold 0 is kept (not trained again), the killed fold's child run is
    closed as KILLED, folds 1-2 run, and one parent run holds all three folds, their summary and
    test folds that partition the parcels. (One CV run serves all these checks: each smoke
    training costs tens of seconds.)"""
    store = new_store(tmp_path, "cv.db")
    args = ["train", "--config", str(REPO / "configs" / "smoke.yaml"), "data.folds=3",
            "data.val_fraction=0.2", "data.test_fraction=0", f"output_dir={tmp_path / 'cv'}",
            f"data.synthetic.out_dir={smoke_run['manifest'].parent}"]
    env = {"MLFLOW_TRACKING_URI": store}
    first = run_module([*args, "data.run_folds=1"], cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr[-4000:]
    assert len(json.loads((tmp_path / "cv" / "cv_summary.json").read_text())["per_fold"]["photo_auroc"]) == 1
    assert not (tmp_path / "cv" / "fold-1").exists() and not (tmp_path / "cv" / "split.csv").exists()
    parent_id = json.loads((tmp_path / "cv" / "result.json").read_text())["run_id"]
    state_path = tmp_path / "cv" / "cv_state.json"
    state = json.loads(state_path.read_text())
    assert list(state["finished"]) == ["0"] and state["running"] is None
    assert state["run_id"] == parent_id
    fold0 = tmp_path / "cv" / "fold-0" / "test_photos.csv"
    fold0_written = fold0.stat().st_mtime_ns
    # What a kill as fold 1 begins leaves: its child run open, the state file naming it.
    client = MlflowClient(tracking_uri=store)
    parent = client.get_run(parent_id)
    stale = client.create_run(parent.info.experiment_id, run_name="fold-1",
                              tags={"mlflow.parentRunId": parent_id})
    state["running"] = {"fold": 1, "child_run_id": stale.info.run_id}
    state_path.write_text(json.dumps(state))

    changed = run_module([*args, "resume=auto", "train.lr=0.5"], cwd=tmp_path, env=env)
    assert changed.returncode == 2
    assert "different config" in changed.stderr and "train.lr" in changed.stderr

    resumed = run_module([*args, "resume=auto"], cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "fold 0: kept from" in resumed.stdout
    assert fold0.stat().st_mtime_ns == fold0_written  # not scored again
    assert json.loads((tmp_path / "cv" / "result.json").read_text())["run_id"] == parent_id
    assert client.get_run(stale.info.run_id).info.status == "KILLED"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'")
    finished = sorted(c.data.params["fold"] for c in children if c.info.status == "FINISHED")
    assert finished == ["0", "1", "2"]
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())
    assert len(summary["per_fold"]["photo_auroc"]) == 3
    assert summary["per_fold"]["photo_auroc"][0] == pytest.approx(state["finished"]["0"]["photo_auroc"])
    parent = client.get_run(parent_id)
    assert parent.data.metrics["cv/folds"] == 3
    for child in children:
        if child.info.status == "FINISHED":  # the killed one was closed before it logged anything
            assert child.data.params["folds"] == "3" and "test/photo_auroc" in child.data.metrics
    for key in ("cv/photo_auroc_mean", "cv/photo_auroc_std", "cv/parcel_auroc_mean", "cv/oof_photo_auroc"):
        assert key in parent.data.metrics, key
    per_fold = summary["per_fold"]["photo_auroc"]
    assert parent.data.metrics["cv/photo_auroc_mean"] == pytest.approx(sum(per_fold) / len(per_fold))
    # Test folds partition the parcels over the kept and the new folds: each scored exactly once.
    tested = pd.concat([pd.read_csv(tmp_path / "cv" / f"fold-{k}" / "test_photos.csv").assign(fold=k)
                        for k in range(3)])
    assert tested.groupby("parcel_id")["fold"].nunique().max() == 1
    assert tested["path"].is_unique and len(tested) == len(pd.read_csv(smoke_run["manifest"]))
    for k in range(3):  # each fold's split.csv: its test rows are the photos that fold scored
        split = pd.read_csv(tmp_path / "cv" / f"fold-{k}" / "split.csv")
        assert sorted(split.loc[split["split"] == "test", "path"]) == sorted(tested.loc[tested["fold"] == k, "path"])
    assert not client.search_registered_models()  # folds are measurements, not models


def test_a_key_added_since_the_checkpoint_matches_only_its_old_behaviour(tmp_path):
    from train import checkpoint

    cfg = load_config(REPO / "configs" / "smoke.yaml", ["data.drop_text_leaks=false"])
    old = {k: v for k, v in checkpoint.config_fingerprint(cfg).items()
           if k not in ("data.drop_text_leaks", "data.text_cache")}
    checkpoint.check_same_config({"config": old}, cfg, tmp_path / "cv_state.json")
    guarded = load_config(REPO / "configs" / "smoke.yaml", ["data.drop_text_leaks=true"])
    with pytest.raises(checkpoint.ResumeError, match="data.drop_text_leaks"):
        checkpoint.check_same_config({"config": old}, guarded, tmp_path / "cv_state.json")


def test_cv_resume_refuses_folds_that_changed(tmp_path):
    from train import checkpoint

    paths, folds = ["a.jpg", "b.jpg", "c.jpg"], [0, 1, 1]
    digest = checkpoint.folds_digest(paths, folds)
    assert checkpoint.folds_digest(paths[::-1], folds[::-1]) == digest  # order does not matter
    state = {"folds_digest": digest}
    checkpoint.check_same_folds(state, digest, tmp_path / "cv_state.json")
    with pytest.raises(checkpoint.ResumeError, match="folds are not the ones"):
        checkpoint.check_same_folds(state, checkpoint.folds_digest(paths, [0, 0, 1]), tmp_path / "cv_state.json")
    bad = tmp_path / "cv_state.json"
    bad.write_text("{not json")
    with pytest.raises(checkpoint.ResumeError, match="cv_state.json"):
        checkpoint.load_cv_state(bad)


def test_photos_that_are_not_shoes_send_the_parcel_to_review(smoke_run, parcel_photos, client, tmp_path):
    skdata = pytest.importorskip("skimage.data")
    model_dir = smoke_run["output_dir"] / "model"
    inspector = Inspector.load(model_dir, labels=False)  # the not-a-shoe density, not the print
    assert inspector.ood is not None and (model_dir / "ood.safetensors").is_file()
    run = client.get_run(smoke_run["result"]["run_id"])
    assert "ood/threshold" in run.data.metrics and "test/ood_flag_rate" in run.data.metrics
    others = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera"):  # odd: median > t => majority
        path = tmp_path / f"{name}.png"
        Image.fromarray(getattr(skdata, name)()).convert("RGB").save(path)
        others.append(str(path))
    shoes = read_manifest(smoke_run["manifest"])["path"].tolist()
    # The statistic separates: a typical non-shoe photo lies beyond 90% of the shoe photos, even
    # for a one-epoch 64 px smoke model. (Its 99% threshold, set on ~20 validation photos, is too
    # noisy to assert photo by photo.)
    other_scores = inspector.score_photos(others).ood_score
    shoe_scores = inspector.score_photos(shoes).ood_score
    assert np.median(other_scores) > np.quantile(shoe_scores, 0.9)
    # The parcel rule, at fixed thresholds: a majority off distribution -> review, not_a_shoe.
    inspector.ood.threshold = float(np.quantile(shoe_scores, 0.9))
    flagged = inspector.inspect(others, parcel_id="no-shoes")
    assert "not_a_shoe" in flagged.reasons and flagged.verdict == "review"
    inspector.ood.threshold = float(np.max(shoe_scores))
    assert "not_a_shoe" not in inspector.inspect(parcel_photos, parcel_id="shoes").reasons
    inspector.ood.threshold = float("-inf")
    assert all(p.out_of_distribution for p in inspector.inspect(parcel_photos).photos)


def test_batch_killed_and_rerun_writes_every_parcel_exactly_once(smoke_run, tmp_path):
    """SIGKILL a manifest batch once it has written something, leave a half-written line as a
    crash mid-write would, rerun with the same --out: every parcel exactly once."""
    import os
    import signal
    import subprocess
    import sys
    import time

    # Enough parcels that the batch is still running when it is killed: the smoke manifest x4.
    df = pd.read_csv(smoke_run["manifest"])
    df["path"] = [str(smoke_run["manifest"].parent / p) for p in df["path"]]
    big = pd.concat([df.assign(parcel_id=df["parcel_id"] + f"-{k}") for k in range(4)])
    manifest = tmp_path / "parcels.csv"
    big.to_csv(manifest, index=False)
    out = tmp_path / "verdicts.jsonl"
    args = [sys.executable, "-m", "infer", "--manifest", str(manifest), "--out", str(out), "--no-labels"]
    env = {**os.environ, "PYTHONPATH": str(REPO), **smoke_run["env"]}
    proc = subprocess.Popen(args, cwd=smoke_run["work"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = out.read_text().count("\n")
    n_parcels = big["parcel_id"].nunique()
    assert 3 <= written < n_parcels, "the batch finished before it could be killed"
    with out.open("a") as f:
        f.write('{"parcel_id": "cut-mid-wri')
    again = subprocess.run(args, cwd=smoke_run["work"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "half-written" in again.stderr
    ids = [json.loads(line)["parcel_id"] for line in out.read_text().splitlines()]
    assert sorted(ids) == sorted(big["parcel_id"].unique())


# Two smoke trainings: slow, as is the single-split run logged later (below).
@pytest.mark.slow
def test_tracking_disabled_then_logged_from_the_output_folder(smoke_run, tmp_path, new_store):
    """`tracking.enabled=false` (a lent GPU machine with no store to reach): the unreachable
    server is never asked and no store appears; `python -m train.log_to_mlflow` then logs what
    the output folder holds as a parent run with one child per fold."""
    unreachable = f"http://127.0.0.1:{free_port()}"
    proc = run_module(
        ["train", "--config", str(REPO / "configs" / "smoke.yaml"), "data.folds=3", "data.run_folds=2",
         "data.val_fraction=0.2", "data.test_fraction=0", f"output_dir={tmp_path / 'cv'}",
         f"data.synthetic.out_dir={smoke_run['manifest'].parent}", "tracking.enabled=false",
         "tracking.run_name=offline-cv"],
        cwd=tmp_path, env={"MLFLOW_TRACKING_URI": unreachable},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "unreachable" not in proc.stderr
    assert not list(tmp_path.rglob("mlflow*.db")) and not (tmp_path / "mlruns").exists()
    result = json.loads((tmp_path / "cv" / "result.json").read_text())
    assert result["run_id"] is None
    summary = json.loads((tmp_path / "cv" / "cv_summary.json").read_text())

    store = new_store(tmp_path, "logged.db")
    logged = subprocess.run(
        [sys.executable, "-m", "train.log_to_mlflow", str(tmp_path / "cv"), "--device", "test machine"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_TRACKING_URI": store},
        capture_output=True, text=True, timeout=300,
    )
    assert logged.returncode == 0, logged.stderr[-4000:]
    run_id = logged.stdout.strip().split()[-1]
    client = MlflowClient(tracking_uri=store)
    parent = client.get_run(run_id)
    assert parent.info.run_name == "offline-cv" and parent.data.tags["device"] == "test machine"
    assert parent.data.params["data.folds"] == "3"
    assert parent.data.metrics["cv/photo_auroc_mean"] == pytest.approx(summary["metrics"]["photo_auroc_mean"])
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    by_fold = {c.data.params["fold"]: c for c in children}
    assert sorted(by_fold) == ["0", "1"]
    for k, child in by_fold.items():
        assert child.data.metrics["test/photo_auroc"] == pytest.approx(summary["per_fold"]["photo_auroc"][int(k)])

    # A run stopped before its summary (the lease ran out): the folds it finished, read from the
    # log that device.sh keeps and their test tables, summarized as the run would have.
    (tmp_path / "cv" / "train.log").write_text(proc.stdout)
    (tmp_path / "cv" / "cv_summary.json").unlink()
    again = subprocess.run(logged.args, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO),
                           "MLFLOW_TRACKING_URI": store}, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-4000:]
    partial = client.get_run(again.stdout.strip().split()[-1]).data.metrics
    assert partial["cv/folds"] == 2 and partial["cv/folds_planned"] == 3
    for key in ("photo_auroc_mean", "photo_auroc_std", "oof_photo_auroc", "oof_parcel_auroc"):
        assert partial[f"cv/{key}"] == pytest.approx(summary["metrics"][key]), key


@pytest.mark.slow  # ~33 s: an offline run, then logged and registered
def test_a_single_split_run_logged_later_is_registered_like_a_tracked_one(smoke_run, tmp_path, new_store,
                                                                          monkeypatch):
    """A single-split run with `tracking.enabled=false`: `python -m train.log_to_mlflow` logs
    its test numbers and registers its package, which then names the run it was logged under."""
    proc = run_module(
        ["train", "--config", str(REPO / "configs" / "smoke.yaml"), f"output_dir={tmp_path / 'one'}",
         f"data.synthetic.out_dir={smoke_run['manifest'].parent}", "tracking.enabled=false",
         "model.export_onnx=false", "tracking.register_as=offline-inspector", "tracking.run_name=offline-one"],
        cwd=tmp_path, env={"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads((tmp_path / "one" / "result.json").read_text())
    store = new_store(tmp_path, "logged.db")
    logged = run_module(["train.log_to_mlflow", str(tmp_path / "one"), "--device", "test machine"],
                        cwd=tmp_path, env={"MLFLOW_TRACKING_URI": store})
    assert logged.returncode == 0, logged.stderr[-4000:]
    run_id = logged.stdout.strip().split()[-1]
    client = MlflowClient(tracking_uri=store)
    metrics = client.get_run(run_id).data.metrics
    assert metrics["test/photo_auroc"] == pytest.approx(result["test"]["photo_auroc"])
    version = client.get_model_version_by_alias("offline-inspector", "candidate")
    assert version.run_id == run_id
    # The shipped package itself is untouched; the logged copy names the run it was logged under.
    assert json.loads((tmp_path / "one" / "model" / "inspector.json").read_text())["model"]["run_id"] is None
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    served = Inspector.load("models:/offline-inspector@candidate")
    assert served.meta["model"]["run_id"] == run_id and served.identity["version"] == str(version.version)


def test_pyfunc_reads_server_paths_only_inside_its_photo_folder(smoke_run, parcel_photos, tmp_path):
    photo = Path(parcel_photos[0])
    frame = pd.DataFrame({"parcel_id": ["a", "a", "a"],
                          "path": [str(photo), str(tmp_path / "secret.txt"), str(tmp_path / "nothing.jpg")]})
    (tmp_path / "secret.txt").write_text("not for callers")
    closed = mlflow.pyfunc.load_model("models:/counterfeit-inspector@candidate")
    out = closed.predict(frame)  # no photo readable: the parcel's row says so, with each photo's error
    errors = [f"{p['path']}: {p['error']}" for p in out.loc[0, "photos"]]
    # The same answer for a photo, a file that exists and one that does not: no hint which exists.
    assert all("path not accepted: this model reads uploaded images only" in e for e in errors)
    opened = mlflow.pyfunc.load_model("models:/counterfeit-inspector@candidate",
                                      model_config={"photo_folder": str(photo.parent)})
    entries = opened.predict(frame).loc[0, "photos"]
    assert "error" not in entries[0]
    assert all("outside the photo folder" in f"{e['path']}: {e['error']}" for e in entries[1:])


def test_pyfunc_refuses_rows_without_a_parcel_and_reads_data_uris(smoke_run, parcel_photos):
    model = mlflow.pyfunc.load_model("models:/counterfeit-inspector@candidate")
    image = base64.b64encode(Path(parcel_photos[0]).read_bytes()).decode()
    with pytest.raises(Exception, match="parcel_id"):
        model.predict(pd.DataFrame({"image": [image]}))
    with pytest.raises(Exception, match=r"rows without one: \[1\]"):
        model.predict(pd.DataFrame({"parcel_id": ["a", ""], "image": [image, image]}))
    out = model.predict(pd.DataFrame({"parcel_id": ["a"], "image": [f"data:image/jpeg;base64,{image}"]}))
    assert out.loc[0, "error"] is None and "error" not in out.loc[0, "photos"][0]
