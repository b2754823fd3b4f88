"""The inspection app's install: `pip install counterfeit-inspector` without extras serves.

A fresh virtual environment gets the project without extras (no torch, timm, albumentations,
FastAPI or Grad-CAM), then judges a parcel with the smoke model's ONNX graph through the CLI
and the Python API. Slow (a real install): `python -m pytest -m slow`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv

import pytest

from infer.manifest import read_manifest
from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_python(tmp_path_factory):
    where = tmp_path_factory.mktemp("base-install")
    venv.create(where / "venv", with_pip=True)
    python = where / "venv" / "bin" / "python"
    # A copy of the working tree, so the build's egg-info and build/ stay out of the checkout.
    source = where / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "infer", "train"):
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name)
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)],
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return python


def run(python, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_base_install_has_no_training_or_review_packages(base_python, tmp_path):
    proc = run(base_python, "-c", "import importlib.util as u, json; print(json.dumps("
               "{m: u.find_spec(m) is not None for m in ['torch', 'timm', 'albumentations', "
               "'pytorch_grad_cam', 'onnxruntime', 'mlflow', 'infer']}))", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert not any(found[m] for m in ("torch", "timm", "albumentations", "pytorch_grad_cam")), found
    assert found["onnxruntime"] and found["mlflow"] and found["infer"]


def test_the_base_install_judges_a_parcel_with_the_onnx_backend(base_python, smoke_run, tmp_path):
    package = smoke_run["output_dir"] / "model"
    assert (package / "model.onnx").is_file()
    parcels = read_manifest(smoke_run["manifest"]).groupby("parcel_id")["path"]
    photos = [str(p) for p in next(iter(parcels))[1]]
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a photo")
    cli = run(base_python, "-m", "infer", *photos, str(bad), "--model", str(package), "--json", cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr[-3000:]
    verdict = json.loads(cli.stdout)
    assert verdict["verdict"] in ("counterfeit", "genuine", "review")
    assert 0.0 <= verdict["counterfeit_probability"] <= 1.0
    assert [p.get("error") is not None for p in verdict["photos"]] == [False] * len(photos) + [True]
    api = run(base_python, "-c",
              "import json, sys; from infer import Inspector; "
              "i = Inspector.load(sys.argv[1], backend='onnx'); v = i.inspect(sys.argv[2:], parcel_id='P-1'); "
              "print(json.dumps({'p': v.to_dict()['counterfeit_probability'], "
              "'torch': 'torch' in sys.modules}))", str(package), *photos, cwd=tmp_path)
    assert api.returncode == 0, api.stderr[-3000:]
    out = json.loads(api.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    assert out["p"] == pytest.approx(verdict["counterfeit_probability"], abs=1e-6)
