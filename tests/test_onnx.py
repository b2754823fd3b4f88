"""The ONNX graph shipped in every package answers like the eager network, photo and parcel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import onnx
import pandas as pd
import pytest

from infer import Inspector
from infer.model import predict_arrays
from infer.onnx_backend import ONNX_FILE, OnnxNet
from infer.ood import FeatureDensity
from infer.package import load_package, save_package
from infer.pooling import sigmoid
from infer.preprocess import normalize, normalize_array
from tests.conftest import REPO
from train.tracking.model import model_config

REGISTERED = "models:/counterfeit-inspector@candidate"
TOLERANCE = 1e-4


@pytest.fixture(scope="module", autouse=True)
def tracking(smoke_registry):
    return smoke_registry


@pytest.fixture(scope="module")
def model_dir(smoke_run):
    return smoke_run["output_dir"] / "model"


@pytest.fixture(scope="module")
def test_photos(smoke_run):
    photos = pd.read_csv(smoke_run["output_dir"] / "test_photos.csv")
    assert len(photos) >= 4
    return photos


@pytest.fixture(scope="module")
def arrays(model_dir, test_photos):
    inspector = Inspector.load(model_dir, labels=False)
    return np.stack([inspector._decode(p, p) for p in test_photos["path"]])


def test_package_ships_model_onnx_and_it_is_logged_with_the_model(model_dir):
    assert (model_dir / ONNX_FILE).is_file()
    model = onnx.load(str(model_dir / ONNX_FILE))
    onnx.checker.check_model(model)
    assert "inspector.net" in {p.key for p in model.metadata_props}
    registered = mlflow.artifacts.download_artifacts(REGISTERED)
    assert list(Path(registered).rglob(ONNX_FILE))


def test_onnx_matches_eager_on_the_test_photos(model_dir, arrays):
    eager = Inspector.load(model_dir, labels=False)
    fast = Inspector.load(REGISTERED, backend="onnx", labels=False)
    assert fast.onnx is not None and eager.onnx is None
    cf_e, brand_e, ood_e = eager.forward_arrays(arrays, batch_size=5)
    cf_o, brand_o, ood_o = fast.forward_arrays(arrays, batch_size=5)
    assert np.abs(sigmoid(cf_e) - sigmoid(cf_o)).max() < TOLERANCE
    assert np.abs(brand_e - brand_o).max() < TOLERANCE
    assert ood_e is not None and ood_o is not None
    np.testing.assert_allclose(ood_o, ood_e, rtol=1e-3)


def test_parcel_verdict_is_the_same_with_either_backend(test_photos):
    pid = test_photos["parcel_id"].iloc[0]
    paths = list(test_photos.loc[test_photos["parcel_id"] == pid, "path"])
    eager = Inspector.load(REGISTERED, labels=False).inspect(paths, parcel_id="p").to_dict()
    fast = Inspector.load(REGISTERED, backend="onnx", labels=False).inspect(paths, parcel_id="p").to_dict()
    assert fast["counterfeit_probability"] == pytest.approx(eager["counterfeit_probability"], abs=TOLERANCE)
    assert fast["brand_probability"] == pytest.approx(eager["brand_probability"], abs=TOLERANCE)
    for key in ("verdict", "brand", "reasons", "model"):
        assert fast[key] == eager[key], key
    assert [p["out_of_distribution"] for p in fast["photos"]] == [
        p["out_of_distribution"] for p in eager["photos"]
    ]


def test_the_runner_batches_like_the_eager_path(model_dir, arrays):
    net, _ = load_package(model_dir)
    runner = OnnxNet(model_dir / ONNX_FILE, net.spec)
    arrays = arrays[:6]  # two batches, the second partial; eager CPU time is the test's cost
    eager = predict_arrays(net, arrays, batch_size=4, features=True)
    fast = runner.predict_arrays(arrays, batch_size=4, features=True)
    assert np.abs(sigmoid(eager[0]) - sigmoid(fast[0])).max() < TOLERANCE
    np.testing.assert_allclose(fast[1], eager[1], atol=TOLERANCE)
    np.testing.assert_allclose(fast[2], eager[2], atol=1e-3)
    whole = runner.predict_arrays(arrays, batch_size=32, features=True)
    np.testing.assert_allclose(whole[0], fast[0], atol=1e-5)  # batch size changes nothing
    empty = runner.predict_arrays(arrays[:0], features=True)
    assert [a.shape for a in empty] == [(0,), (0, len(net.spec.brands)), (0, fast[2].shape[1])]


@pytest.mark.slow  # ~20 s: a torch.export to ONNX
def test_package_without_onnx_is_exported_on_load(model_dir, arrays, tmp_path, capfd):
    old = tmp_path / "old"
    shutil.copytree(model_dir, old)
    net, meta = load_package(old)
    # Re-saving without ONNX must also drop the now stale graph copied along.
    save_package(old, net, meta, FeatureDensity.load(old), onnx=False)
    assert not (old / ONNX_FILE).exists()
    eager = Inspector.load(old, labels=False)
    fast = Inspector.load(old, backend="onnx", labels=False)
    assert ONNX_FILE in capfd.readouterr().err
    assert not (old / ONNX_FILE).exists()  # exported to a temporary folder, not into the package
    cf_e, brand_e, _ = eager.forward_arrays(arrays)
    cf_o, brand_o, _ = fast.forward_arrays(arrays)
    assert np.abs(sigmoid(cf_e) - sigmoid(cf_o)).max() < TOLERANCE
    assert np.abs(brand_e - brand_o).max() < TOLERANCE


def test_a_package_without_its_graph_is_served_by_torch(model_dir, tmp_path):
    # Else MLflow's check of the input example at logging, and every serve start, would export.
    assert model_config(model_dir)["backend"] == "onnx"
    bare = tmp_path / "bare"
    shutil.copytree(model_dir, bare, ignore=shutil.ignore_patterns(ONNX_FILE))
    assert model_config(bare)["backend"] == "torch"
    assert Inspector.load(model_dir, backend="auto", labels=False).backend == "onnx"
    assert Inspector.load(bare, backend="auto", labels=False).backend == "torch"


def test_normalize_array_gives_the_graph_what_normalize_gives_the_network():
    batch = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 3), dtype=np.uint8)
    for mean, std in (((0.5,) * 3, (0.5,) * 3), ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))):
        assert np.array_equal(normalize_array(batch, mean, std), normalize(batch, mean, std).numpy())
        assert np.array_equal(normalize_array(batch[0], mean, std), normalize(batch[0], mean, std).numpy())


def test_serving_through_onnx_never_imports_torch(model_dir, test_photos):
    """The app's cold start: torch + timm take ~9 s to import on 2 cores, onnxruntime ~0.2 s."""
    code = (
        "import sys, json\n"
        "from infer import Inspector\n"
        "inspector = Inspector.load(sys.argv[1], backend='onnx')\n"
        "verdict = inspector.inspect(sys.argv[2:])\n"
        "heavy = sorted(m for m in ('torch', 'timm', 'torchvision') if m in sys.modules)\n"
        "print(json.dumps({'heavy': heavy, 'p': verdict.counterfeit_probability}))\n"
    )
    photos = list(test_photos["path"][:3])
    proc = subprocess.run([sys.executable, "-c", code, str(model_dir), *photos], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    eager = Inspector.load(model_dir, labels=False).inspect(photos)
    assert out["p"] == pytest.approx(eager.counterfeit_probability, abs=TOLERANCE)


def test_unknown_backend_is_refused(model_dir):
    with pytest.raises(ValueError, match="backend.*'tensorrt'"):
        Inspector.load(model_dir, backend="tensorrt")


def test_the_logged_model_asks_for_torch_only_where_serving_runs_it(tmp_path):
    import json

    from train.tracking.model import requirements_for

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "inspector.json").write_text(json.dumps({"net": {"shoe_crop": False}}))
    assert any(r.startswith("torch") for r in requirements_for(package))  # no graph: eager
    (package / ONNX_FILE).write_bytes(b"graph")
    served = requirements_for(package)
    assert "onnxruntime>=1.20,<2" in served and not any(r.startswith(("torch", "timm")) for r in served)
    (package / "inspector.json").write_text(json.dumps({"net": {"shoe_crop": True}}))
    assert any(r.startswith("torch") for r in requirements_for(package))
