"""`python -m train.recertify`: a trained model's review band chosen again on more parcels."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from infer.inspector import Inspector
from infer.package import META_FILE, WEIGHTS_FILE
from train.band import selective_error
from train.evaluate import parcels_of, score_manifest
from train.recertify import main, recertify


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_new_band_is_chosen_on_the_manifest_and_ships_in_a_copy(smoke_run, tmp_path):
    model = smoke_run["output_dir"] / "model"
    before = json.loads((model / META_FILE).read_text())
    # A weak smoke model can only be certified for a loose target; what is tested is that the
    # band is the one `choose_band` finds on these parcels and that the copy serves it.
    result = recertify(str(model), str(smoke_run["manifest"]), tmp_path / "pkg", target_error=0.9,
                       test_manifest=str(smoke_run["manifest"]))
    assert result["certified"]
    out = tmp_path / "pkg"
    meta = json.loads((out / META_FILE).read_text())
    band = result["band"]
    assert meta["band"]["confidence"] == band["confidence"]
    assert meta["thresholds"]["genuine_below"] == pytest.approx(1 - band["confidence"])
    assert meta["thresholds"]["counterfeit_above"] == pytest.approx(band["confidence"])
    assert meta["thresholds"]["min_brand_probability"] == before["thresholds"]["min_brand_probability"]
    assert meta["band_history"][-1]["band"] == before["band"]
    assert meta["band_source"]["manifest_sha256"] == _sha(smoke_run["manifest"])
    assert meta["band_source"]["parcels"] == band["n"]
    # Nothing but the band changes: same weights, temperatures, recalibration, density.
    assert _sha(out / WEIGHTS_FILE) == _sha(model / WEIGHTS_FILE)
    for key in ("temperature", "parcel_calibration", "pooling", "net"):
        assert meta[key] == before[key]
    # The copy's verdicts follow the new thresholds, and its decisions are the band's.
    inspector = Inspector.load(out, labels=False)  # the band is chosen on scores, not label reads
    assert inspector.thresholds.counterfeit_above == pytest.approx(band["confidence"])
    photos, probs, _ = score_manifest(inspector, str(smoke_run["manifest"]))
    parcels = parcels_of(photos, probs, inspector)
    decided, errors = selective_error(parcels["prob"].to_numpy(), parcels["target"].to_numpy(), band["confidence"])
    assert (decided, errors) == (band["n_auto"], band["errors"])
    assert result["test"]["decided"] == decided and result["test"]["errors"] == errors


def test_a_target_nothing_can_meet_sends_everything_to_review(smoke_run, tmp_path, capsys):
    code = main(["--model", str(smoke_run["output_dir"] / "model"), "--manifest", str(smoke_run["manifest"]),
                 "--out", str(tmp_path / "pkg"), "--target-error", "0.001"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert not result["certified"] and result["band"]["n_auto"] == 0
    thresholds = Inspector.load(tmp_path / "pkg", labels=False).thresholds
    assert (thresholds.genuine_below, thresholds.counterfeit_above) == (0.0, 1.0)


def test_refuses_a_used_folder_and_an_unlabelled_manifest_naming_them(smoke_run, tmp_path, capsys):
    model = str(smoke_run["output_dir"] / "model")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("earlier work")
    assert main(["--model", model, "--manifest", str(smoke_run["manifest"]), "--out", str(used)]) == 2
    err = capsys.readouterr().err
    assert str(used) in err and "evaluate" not in err  # refused before any photo was scored
    assert (used / "keep.txt").read_text() == "earlier work"

    unlabelled = tmp_path / "unlabelled.csv"
    df = pd.read_csv(smoke_run["manifest"])
    df["path"] = [str(smoke_run["manifest"].parent / p) for p in df["path"]]
    df.assign(label="").to_csv(unlabelled, index=False)
    assert main(["--model", model, "--manifest", str(unlabelled), "--out", str(tmp_path / "new")]) == 2
    assert "no labelled parcel" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_registered_copy_is_what_the_alias_serves(smoke_run, smoke_registry, tmp_path, capsys):
    name = "counterfeit-inspector-recertified"  # not the smoke model's name: other tests use it
    code = main(["--model", str(smoke_run["output_dir"] / "model"), "--manifest", str(smoke_run["manifest"]),
                 "--out", str(tmp_path / "pkg"), "--target-error", "0.9", "--register", name,
                 "--alias", "recertified"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["registered"]["name"] == name
    served = Inspector.load(f"models:/{name}@recertified", labels=False)
    assert served.thresholds.counterfeit_above == pytest.approx(result["band"]["confidence"])
    assert served.identity["version"] == result["registered"]["version"]
    assert np.isfinite(result["calibration_set"]["ece"])
