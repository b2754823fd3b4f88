"""Broken training photos: reported (file, reason, count in MLflow) and skipped; over
`data.max_broken_share` the run stops before the first epoch, listing them."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import REPO, run_module


@pytest.fixture(scope="module")
def broken_manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("broken") / "bad-photos"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not a photo")
    (folder / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    rows = [{"path": name, "label": "counterfeit", "brand": "", "parcel_id": f"bad-{i}"}
            for i, name in enumerate(["empty.jpg", "text.jpg", "cut.png", "missing.jpg"])]
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    return folder / "labels.csv"


def train(work, manifest, store, *extra):
    env = {"MLFLOW_TRACKING_URI": store(work)}
    proc = run_module(
        ["train", "--config", str(REPO / "configs" / "smoke.yaml"), f"output_dir={work / 'run'}",
         f"data.synthetic.out_dir={work.parent / 'synthetic'}", f"data.manifests=[{manifest}]",
         "tracking.register_as=", "model.export_onnx=false", *extra],
        cwd=work, env=env)
    return proc, MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])


def test_too_many_broken_photos_stop_before_training(broken_manifest, tmp_path, new_store):
    proc, client = train(tmp_path, broken_manifest, new_store)
    assert proc.returncode == 2
    for name, reason in (("empty.jpg", "empty file"), ("text.jpg", "not an image"),
                         ("cut.png", ""), ("missing.jpg", "file not found")):
        assert name in proc.stderr and reason in proc.stderr
    assert "max_broken_share" in proc.stderr and "nothing was trained" in proc.stderr
    assert "epoch 1" not in proc.stdout
    assert (tmp_path / "run" / "unreadable_photos.csv").is_file()
    assert not (tmp_path / "run" / "checkpoints").exists()


# Slow (~28 s: a training run through the broken photos); the refusal above stays in the
# default suite.
@pytest.mark.slow
def test_a_few_broken_photos_are_skipped_and_counted(broken_manifest, tmp_path, new_store):
    proc, client = train(tmp_path, broken_manifest, new_store, "data.max_broken_share=0.2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "skipping unreadable photo" in proc.stdout and "missing.jpg" in proc.stdout
    run = client.search_runs([client.get_experiment_by_name("counterfeit-inspector-smoke").experiment_id])[0]
    assert run.data.metrics["data/unreadable_photos"] == 4
    listing = client.download_artifacts(run.info.run_id, "data/unreadable_photos.csv", str(tmp_path))
    assert len(pd.read_csv(listing)) == 4
