"""Fit one split: fine-tune on `train`, keep the epoch with the best validation score, calibrate
on validation parcels, fit the not-a-shoe density, score the held-out test parcels."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from infer.model import InspectorNet, predict_arrays
from infer.ood import FeatureDensity
from train import checkpoint, distributed, tracking
from train.build import Training, build_model, build_training, training_rows
from train.calibrate import DEFAULT_POOLING, Calibration, calibrate, score_split
from train.config import Config
from train.engine import train_one_epoch
from train.metrics import summarize
from train.scoring import score_test

OOD_FIT_PHOTOS = 3000  # enough for a 32-direction summary; more only costs inference time
OOD_QUANTILE = 0.99  # 1% of in-distribution validation photos flagged


@dataclass
class Fitted:
    net: InspectorNet | None
    calibration: Calibration | None
    ood: FeatureDensity | None
    test: dict
    photos: pd.DataFrame  # test photos with calibrated logits
    parcels: pd.DataFrame
    # Brands and models whose photos carried a counterfeit/genuine label in training.
    counterfeit_trained: dict | None = None


def counterfeit_coverage(train_split: pd.DataFrame) -> dict:
    """Which brands and models the counterfeit head learned from (rows with a label): outside
    them its score means nothing, and serving says so (`counterfeit_model_untrained`)."""
    labelled = train_split[train_split["target"].notna()]
    def values(column: str) -> list[str]:
        if column not in labelled:
            return []
        return sorted({str(v).strip().lower() for v in labelled[column] if str(v).strip() not in ("", "nan")})
    return {"brands": values("brand"), "models": values("model")}


class Scorer:
    """Raw outputs for photos, each rank scoring a share (plus pooled features on request)."""

    def __init__(self, net: InspectorNet, cfg: Config, ctx: distributed.Context):
        self.net, self.ctx = net, ctx
        self.batch_size, self.channels_last = cfg.train.batch_size * 2, cfg.train.channels_last

    def __call__(self, arrays: np.ndarray, desc: str, features: bool = False):
        distributed.sync_buffers(self.net, self.ctx)
        return distributed.gather_rows(self.ctx, len(arrays), lambda idx: predict_arrays(
            self.net, arrays[idx], self.batch_size, self.channels_last,
            progress=desc if self.ctx.main else None, features=features))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit_and_evaluate(cfg: Config, splits: dict[str, pd.DataFrame], images: np.ndarray,
                     brands: list[str], out: Path, ctx: distributed.Context | None = None,
                     resume: dict | None = None, run_id: str | None = None) -> Fitted:
    """`ctx`: the distributed context (one process when None); `resume`: a loaded checkpoint to
    continue from; `run_id`: stored in the checkpoints (None: write no checkpoints)."""
    ctx = ctx or distributed.Context()
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.train.seed)
    rows, train_images = training_rows(cfg, splits["train"], images)
    net = build_model(cfg, brands, ctx)
    training = build_training(cfg, net, rows, train_images, brands, ctx)
    score = Scorer(net, cfg, ctx)
    val, val_images = splits["val"], images[splits["val"].index.to_numpy()]
    best_val = train_epochs(cfg, net, training, val, val_images, brands, score, ctx, resume, run_id)

    cal = Calibration.fixed(cfg)
    if len(val):
        *val_outputs, val_features = best_val if best_val is not None else score(val_images, "val", True)
        cal, val_parcels = calibrate(cfg, val, val_outputs, brands)
        if ctx.main:
            # The band is a policy: `python -m train.band` re-chooses it for other targets from this.
            val_parcels.to_csv(out / "val_parcels.csv", index=False)
        ood = fit_ood(cfg, train_images, val, val_features, score)
    else:
        ood = None
    tracking.log_params({"calibration.pooling": cal.pooling})
    test, photos, parcels = score_test(cfg, net, splits["test"], images, brands, cal, ood, score, out, ctx.main)
    return Fitted(net, cal, ood, test, photos, parcels, counterfeit_coverage(splits["train"]))


def train_epochs(cfg: Config, net: InspectorNet, training: Training, val: pd.DataFrame,
                 val_images: np.ndarray, brands: list[str], score: Scorer, ctx, resume, run_id):
    """Fine-tune for `train.epochs`, then load the best epoch's weights into `net` (validation
    parcel AUROC; the last epoch without validation). Returns that epoch's validation outputs,
    which calibration reuses (same weights), or None."""
    best, best_val, start_epoch = (-np.inf, None, -1), None, 0
    if resume is not None:
        start_epoch, best = restore(cfg, net, training, resume)
    for epoch in range(start_epoch, cfg.train.epochs):
        t0 = time.time()
        distributed.seed_epoch(cfg.train.seed, epoch, ctx, training.loader)
        losses = train_one_epoch(
            training.model, training.loader, training.optimizer, training.scheduler,
            brand_weight=cfg.train.brand_loss_weight, brand_class_weights=training.class_weights,
            channels_last=cfg.train.channels_last, max_steps=cfg.train.max_steps_per_epoch,
            desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
        )
        losses["lr"] = training.optimizer.param_groups[0]["lr"]
        losses["epoch_seconds"] = time.time() - t0
        tracking.log_metrics(losses, "train", step=epoch)
        line = f"epoch {epoch + 1}: loss {losses['loss']:.4f} ({losses['epoch_seconds']:.0f}s)"
        value, val_out = float(epoch), None
        if len(val):
            val_out = score(val_images, "val", features=True)
            value, shown = validation_score(val, val_out, brands, losses, epoch)
            line += shown
        if ctx.main:
            print(line)
        if value > best[0]:
            best, best_val = (value, {k: t.detach().clone() for k, t in net.state_dict().items()}, epoch), val_out
            if run_id is not None and ctx.main:
                checkpoint.save_atomic({"epoch": epoch, "score": value, "model": best[1]},
                                       checkpoint.folder(cfg.output_dir) / checkpoint.BEST)
        if run_id is not None and ctx.main:
            save_last(cfg, net, training, epoch, best, run_id, ctx.world)
    net.load_state_dict(best[1])
    tracking.log_metrics({"best_epoch": best[2]}, "train")
    return best_val


def validation_score(val: pd.DataFrame, val_out, brands: list[str], losses: dict, epoch: int):
    """(what picks the epoch, the line printed): validation parcel AUROC, the brand accuracy
    breaking ties; brand accuracy alone on brand-only data."""
    v = summarize(*score_split(val, val_out[:2], brands, DEFAULT_POOLING))
    tracking.log_metrics({k: v[k] for k in ("photo_auroc", "parcel_auroc", "brand_accuracy", "ece")},
                         "val", step=epoch)
    if v["parcel_auroc"] is not None:
        value = v["parcel_auroc"] + 1e-3 * (v["brand_accuracy"] or 0.0)
    else:
        value = v["brand_accuracy"] if v["brand_accuracy"] is not None else -losses["loss"]
    return value, f"  val parcel AUROC {v['parcel_auroc']}  val brand acc {v['brand_accuracy']}"


def restore(cfg: Config, net: InspectorNet, training: Training, resume: dict):
    """(first epoch to run, best so far) from a checkpoint, everything else loaded in place."""
    net.load_state_dict(resume["model"])
    training.optimizer.load_state_dict(resume["optimizer"])
    training.scheduler.load_state_dict(resume["scheduler"])
    checkpoint.set_rng_state(resume["rng"])
    start_epoch = resume["epoch"] + 1
    best_state = checkpoint.load(checkpoint.folder(cfg.output_dir) / checkpoint.BEST)["model"]
    print(f"resumed after epoch {start_epoch} of {cfg.train.epochs} (best so far: epoch "
          f"{resume['best_epoch'] + 1})")
    return start_epoch, (resume["best_score"], best_state, resume["best_epoch"])


def save_last(cfg: Config, net: InspectorNet, training: Training, epoch: int, best, run_id: str,
              world: int) -> None:
    checkpoint.save_atomic({
        "epoch": epoch, "model": net.state_dict(), "optimizer": training.optimizer.state_dict(),
        "scheduler": training.scheduler.state_dict(), "rng": checkpoint.rng_state(),
        "best_score": best[0], "best_epoch": best[2], "run_id": run_id,
        "config": checkpoint.config_fingerprint(cfg), "world_size": world,
    }, checkpoint.folder(cfg.output_dir) / checkpoint.LAST)


def fit_ood(cfg: Config, train_images: np.ndarray, val: pd.DataFrame, val_features: np.ndarray,
            score: Scorer) -> FeatureDensity | None:
    """The not-a-shoe density: training photos' features, its threshold on validation photos."""
    if len(train_images) < 3:
        return None
    rng = np.random.default_rng(cfg.train.seed)
    pick = np.sort(rng.choice(len(train_images), min(OOD_FIT_PHOTOS, len(train_images)), replace=False))
    ood = FeatureDensity.fit(score(train_images[pick], "features", features=True)[2])
    ood.set_threshold(val_features[val["readable"].to_numpy()], OOD_QUANTILE)
    tracking.log_metrics({"threshold": ood.threshold, "fit_photos": len(pick)}, "ood")
    return ood
