"""`train.ema_decay`: the averaged weights are what validation scores and the package ships."""

from __future__ import annotations

import json

import pandas as pd
import torch
from safetensors.torch import load_file

from tests.conftest import REPO, run_module
from train import checkpoint
from train.config import ConfigError, load_config


def test_package_ships_the_average_not_the_last_step(smoke_run, tmp_path, new_store):
    work = tmp_path
    proc = run_module(
        ["train", "--config", str(REPO / "configs" / "smoke.yaml"), f"output_dir={work / 'run'}",
         f"data.synthetic.out_dir={smoke_run['manifest'].parent}", "tracking.register_as=",
         "train.ema_decay=0.9", "train.read_loss_weight=1.0", "model.export_onnx=false"],
        cwd=work, env={"MLFLOW_TRACKING_URI": new_store(work)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = checkpoint.load(work / "run" / "checkpoints" / checkpoint.LAST)
    assert last["epoch"] == 0 and json.loads((work / "run" / "result.json").read_text())["run_id"]
    shipped = load_file(str(work / "run" / "model" / "weights.safetensors"))
    raw, averaged = last["model"], last["ema"]
    head = "counterfeit_head.weight"
    assert not torch.allclose(raw[head], averaged[head]), "the average should lag the last step"
    for key, value in shipped.items():
        assert torch.equal(value, averaged[key].contiguous()), key
    # The reading head (same run, to spare a second training) ships with its vocabulary: what
    # the smoke set's tags and boxes print, and only that.
    meta = json.loads((work / "run" / "model" / "inspector.json").read_text())
    vocab = meta["net"]["printed"]
    assert vocab and "read_head.weight" in shipped and shipped["read_head.weight"].shape[0] == len(vocab)
    manifest = pd.read_csv(smoke_run["manifest"], keep_default_na=False)
    lines = {t for cell in manifest["printed"] for t in cell.split(";") if t}
    assert set(vocab) <= lines


def test_decay_outside_zero_one_is_refused():
    for bad in ("1.0", "-0.1"):
        try:
            load_config(None, [f"train.ema_decay={bad}"])
        except ConfigError as exc:
            assert "ema_decay" in str(exc)
        else:
            raise AssertionError(f"train.ema_decay={bad} accepted")
