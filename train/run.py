"""`python -m train`: data -> split -> fine-tune -> calibrate -> evaluate -> package, log, register.

Reads top to bottom, as torchvision's reference script does; each phase is a module:
`train.prepare` builds the data, `train.build` the model and its optimisation, `train.fit`
trains (one epoch at a time, `train.engine`), picks the epoch and calibrates, `train.scoring`
evaluates on held-out parcels, `train.publish` packages, logs and registers, and `train.cv`
runs the same fit once per fold as child runs of one MLflow parent.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from train import checkpoint, distributed, tracking
from train.config import Config, dump_yaml, flatten, to_dict
from train.cv import cross_validate
from train.fit import fit_and_evaluate
from train.prepare import RunData, build_data, split_for
from train.publish import NOT_REGISTERED, package_and_register


@dataclass
class RunResult:
    run_id: str
    model_uri: str | None
    registered: dict
    test_metrics: dict
    output_dir: Path


def run(cfg: Config) -> RunResult:
    ctx = distributed.init()
    try:
        return _run(cfg, ctx)
    finally:
        distributed.shutdown(ctx)


def _run(cfg: Config, ctx: distributed.Context) -> RunResult:
    started = time.time()
    setup(cfg, ctx)
    out = Path(cfg.output_dir)
    resume_path, resume, cv_state = find_resume(cfg)
    if ctx.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(dump_yaml(cfg))

    # 1. Data: sources, photos decoded once, copies, folds by parcel.
    data = build_data(cfg, ctx, out)
    if cv_state is not None:
        checkpoint.check_same_folds(cv_state, data.folds_digest, resume_path)
    continued = resume or cv_state

    with tracking.start(cfg.tracking.experiment, cfg.tracking.run_name,
                        run_id=continued["run_id"] if continued else None,
                        offline_fallback=cfg.tracking.offline_fallback,
                        delivery_timeout_s=cfg.tracking.delivery_timeout_s,
                        outbox_dir=out / "mlflow-outbox") as active:
        run_id = active.info.run_id
        if continued is None:
            log_inputs(cfg, data, out)
        else:
            print(f"resuming MLflow run {run_id} from {resume_path}")
        if data.folds is not None:
            # 2a. Cross-validation: one child run per fold, mean and spread on the parent.
            test, registered = cross_validate(cfg, data, ctx, out, run_id, cv_state), NOT_REGISTERED
        else:
            # 2b. One split: fit, evaluate, then package, log and register the model.
            splits = split_for(cfg, data, out, None, ctx.main)
            fitted = fit_and_evaluate(cfg, splits, data.images, data.brands, out, ctx, resume,
                                      run_id=run_id or "unlogged")
            test, registered = fitted.test, NOT_REGISTERED
            if ctx.main:
                registered = package_and_register(cfg, fitted, splits, out, run_id)
        wall = time.time() - started
        tracking.log_metrics({"wall_seconds": wall}, "run")
    return finish(run_id, registered, test, wall, out, ctx)


def setup(cfg: Config, ctx: distributed.Context) -> None:
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: autotune each conv once
    tracking.set_enabled(ctx.main and cfg.tracking.enabled)
    if tracking.is_enabled() and not cfg.tracking.offline_fallback:
        tracking.check_reachable()  # before minutes of decoding, not after


def find_resume(cfg: Config):
    """(checkpoint path, epoch checkpoint, cross-validation state): what `resume=` continues
    from, checked against this config; Nones for a fresh run."""
    path = checkpoint.locate(cfg)
    if path is None:
        return None, None, None
    if cfg.data.folds:
        state = checkpoint.load_cv_state(path)
        checkpoint.check_same_config(state, cfg, path)
        return path, None, state
    resume = checkpoint.load(path)
    checkpoint.check_same_config(resume, cfg, path)
    return path, resume, None


def log_inputs(cfg: Config, data: RunData, out: Path) -> None:
    """The config as parameters and a file, the synthetic set's contact sheet, and what the data
    check found (unreadable photos, copies across parcels)."""
    tracking.log_params(flatten(to_dict(cfg)))
    tracking.log_text(dump_yaml(cfg), "config/config.yaml")
    preview = data.synthetic_dir / "preview.png" if data.synthetic_dir else None
    if preview is not None and preview.is_file() and cfg.tracking.preview_images:
        tracking.log_artifact(preview, "data")
    tracking.log_metrics({"unreadable_photos": len(data.unreadable),
                          "unreadable_share": len(data.unreadable) / max(1, len(data.table)),
                          "copy_pairs": len(data.copies), "text_leaks": len(data.text_leaks)}, "data")
    if len(data.text_leaks):
        tracking.log_artifact(out / "text_leaks.csv", "data")
    if data.copies:
        tracking.log_artifact(out / "copies.csv", "data")
    if not data.unreadable.empty:
        tracking.log_artifact(out / "unreadable_photos.csv", "data")


def finish(run_id, registered: dict, test: dict, wall: float, out: Path, ctx) -> RunResult:
    result = {
        "run_id": run_id, "model_uri": registered["model_uri"], "registered": registered,
        "test": test, "wall_seconds": round(wall, 1), "world_size": ctx.world,
    }
    if ctx.main:
        (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
        print(json.dumps(result, indent=2, default=str))
    return RunResult(run_id, registered["model_uri"], registered, test, out)
