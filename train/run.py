"""`python -m train`: data -> split -> fine-tune -> calibrate -> evaluate -> log -> register.

Reads top to bottom; each step is a call into a small module.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from infer.model import create_inspector_net, softmax
from infer.package import save_package
from infer.verdict import Thresholds
from train import tracking
from train.augment import build_augment
from train.config import Config, dump_yaml, flatten, to_dict
from train.data import (
    PhotoDataset,
    Source,
    cap_parcels,
    decode_all,
    load_sources,
    parse_source,
    photo_targets,
    sample_weights,
    split_by_parcel,
)
from train.engine import (
    build_optimizer,
    freeze_early_stages,
    predict,
    train_one_epoch,
    warmup_cosine,
)
from train.metrics import (
    choose_pooling,
    fit_brand_temperature,
    fit_counterfeit_temperature,
    pool_parcels,
    recall_by_view_and_defect,
    summarize,
)
from train.plots import evaluation_figures
from train.synthetic_data import ensure_synthetic


@dataclass
class RunResult:
    run_id: str
    model_uri: str
    registered: dict
    test_metrics: dict
    output_dir: Path


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def gather_sources(cfg: Config) -> tuple[list[Source], Path | None]:
    sources, synthetic_dir = [], None
    if cfg.data.synthetic.enabled:
        manifest = ensure_synthetic(cfg.data.synthetic)
        synthetic_dir = manifest.parent
        sources.append(Source(manifest, cfg.data.synthetic.weight))
    sources += [parse_source(entry) for entry in cfg.data.manifests]
    return sources, synthetic_dir


def prepare_splits(cfg: Config, sources: list[Source]) -> dict[str, pd.DataFrame]:
    table = load_sources(sources)
    table["split"] = split_by_parcel(
        table, cfg.data.val_fraction, cfg.data.test_fraction, cfg.data.split_seed
    )
    splits = {}
    for name in ("train", "val", "test"):
        part = table[table["split"] == name]
        splits[name] = cap_parcels(part, cfg.data.max_parcels, cfg.data.split_seed).reset_index(drop=True)
    seen: set[str] = set()
    for part in splits.values():
        ids = set(part["parcel_id"])
        if seen & ids:
            raise AssertionError(f"parcel(s) in two splits: {sorted(seen & ids)[:5]}")
        seen |= ids
    return splits


def score_split(df, outputs, brands, pooling, cf_temp=1.0, brand_temp=1.0):
    """Per-photo and per-parcel tables from raw network outputs, for one pooling/calibration."""
    cf_logits, brand_logits = outputs
    photos = df.copy()
    photos["logit"] = np.where(df["readable"].to_numpy(), cf_logits / cf_temp, np.nan)
    probs = softmax(brand_logits, brand_temp)
    photos["brand_pred"] = [brands[k] for k in probs.argmax(1)]
    photos["brand_prob"] = probs.max(1)
    return photos, pool_parcels(photos, probs, brands, pooling)


def run(cfg: Config) -> RunResult:
    started = time.time()
    seed_everything(cfg.train.seed)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(dump_yaml(cfg))

    # 1. Data: sources, parcel-grouped splits, photos decoded once.
    sources, synthetic_dir = gather_sources(cfg)
    splits = prepare_splits(cfg, sources)
    brands = sorted(b for b in splits["train"]["brand"].unique() if b)
    size = cfg.data.image_size
    images = {}
    for name, df in splits.items():
        images[name], errors = decode_all(list(df["path"]), size, desc=f"decode {name}")
        df["readable"] = [e is None for e in errors]
        for e in (e for e in errors if e):
            print(f"warning: skipping unreadable photo {e}")
    train_df = splits["train"][splits["train"]["readable"]].reset_index(drop=True)
    train_df["train_target"] = photo_targets(train_df, cfg.train.photo_targets)
    train_images = images["train"][splits["train"]["readable"].to_numpy()]

    # 2. Model and optimisation.
    net = create_inspector_net(cfg.model.name, brands, cfg.model.weights, size, cfg.model.dropout)
    freeze_early_stages(net, cfg.train.freeze_stages)
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    dataset = PhotoDataset(train_images, train_df, brands, build_augment(cfg.train.augment))
    multi_source = train_df["source"].nunique() > 1
    generator = torch.Generator().manual_seed(cfg.train.seed)
    sampler = (
        WeightedRandomSampler(sample_weights(train_df), len(train_df), generator=generator)
        if multi_source
        else None
    )
    loader = DataLoader(
        dataset,
        batch_size=cfg.train.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=len(dataset) > cfg.train.batch_size,
        num_workers=cfg.data.workers,
        persistent_workers=cfg.data.workers > 0,
        generator=generator,
    )
    steps_per_epoch = len(loader)
    if cfg.train.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.train.max_steps_per_epoch)
    optimizer = build_optimizer(net, cfg.train.lr, cfg.train.backbone_lr_scale, cfg.train.weight_decay)
    scheduler = warmup_cosine(
        optimizer, cfg.train.epochs * steps_per_epoch, int(cfg.train.warmup_epochs * steps_per_epoch)
    )

    def infer_split(name: str):
        return predict(net, images[name], cfg.train.batch_size * 2, cfg.train.channels_last, name)

    with tracking.start(cfg.tracking.experiment, cfg.tracking.run_name) as active:
        run_id = active.info.run_id
        tracking.mlflow.log_params({k: str(v)[:500] for k, v in flatten(to_dict(cfg)).items()})
        tracking.mlflow.log_text(dump_yaml(cfg), "config/config.yaml")
        data_summary = {
            name: {
                "photos": int(len(df)),
                "parcels": int(df["parcel_id"].nunique()),
                "counterfeit_parcels": int((df.groupby("parcel_id")["target"].max() == 1).sum()),
                "unreadable": int((~df["readable"]).sum()),
            }
            for name, df in splits.items()
        }
        data_summary["brands"] = brands
        data_summary["sources"] = [str(s.manifest) for s in sources]
        tracking.log_json(data_summary, "data/summary.json")
        if synthetic_dir and (synthetic_dir / "preview.png").is_file() and cfg.tracking.preview_images:
            tracking.mlflow.log_artifact(str(synthetic_dir / "preview.png"), "data")

        # 3. Fine-tune; keep the epoch with the best validation parcel AUROC.
        best = (-1.0, None, -1)
        for epoch in range(cfg.train.epochs):
            t0 = time.time()
            losses = train_one_epoch(
                net, loader, optimizer, scheduler,
                brand_weight=cfg.train.brand_loss_weight,
                channels_last=cfg.train.channels_last,
                max_steps=cfg.train.max_steps_per_epoch,
                desc=f"epoch {epoch + 1}/{cfg.train.epochs}",
            )
            losses["lr"] = optimizer.param_groups[0]["lr"]
            losses["epoch_seconds"] = time.time() - t0
            tracking.log_metrics(losses, "train", step=epoch)
            val_outputs = infer_split("val")
            val = summarize(*score_split(splits["val"], val_outputs, brands, "log_mean_exp"))
            tracking.log_metrics(
                {k: val[k] for k in ("photo_auroc", "parcel_auroc", "brand_accuracy", "ece")}, "val", step=epoch
            )
            score = val["parcel_auroc"] if val["parcel_auroc"] is not None else -losses["loss"]
            score += 1e-3 * (val["brand_accuracy"] or 0.0)
            print(
                f"epoch {epoch + 1}: loss {losses['loss']:.4f}  val parcel AUROC "
                f"{val['parcel_auroc']}  val brand acc {val['brand_accuracy']}  "
                f"({losses['epoch_seconds']:.0f}s)"
            )
            if score > best[0]:
                best = (score, {k: v.detach().clone() for k, v in net.state_dict().items()}, epoch)
        net.load_state_dict(best[1])
        tracking.mlflow.log_metric("train/best_epoch", best[2])

        # 4. Calibrate on validation parcels: pooling, then temperatures.
        val_outputs = infer_split("val")
        brand_logits = val_outputs[1]
        photos, _ = score_split(splits["val"], val_outputs, brands, "log_mean_exp")
        pooling, pooling_scores = (
            choose_pooling(photos, softmax(brand_logits), brands)
            if cfg.verdict.pooling == "auto"
            else (cfg.verdict.pooling, {})
        )
        tracking.log_metrics(pooling_scores, "val/pooling_parcel_auroc")
        cf_temp = fit_counterfeit_temperature(photos, pooling)
        brand_index = np.array([brands.index(b) if b in brands else -1 for b in splits["val"]["brand"]])
        brand_temp = fit_brand_temperature(brand_logits, brand_index)
        val_before = summarize(*score_split(splits["val"], val_outputs, brands, pooling))
        val_after = summarize(
            *score_split(splits["val"], val_outputs, brands, pooling, cf_temp, brand_temp)
        )
        tracking.mlflow.log_params({"calibration.pooling": pooling})
        tracking.log_metrics(
            {"counterfeit_temperature": cf_temp, "brand_temperature": brand_temp,
             "ece_before": val_before["ece"], "ece_after": val_after["ece"]},
            "calibration",
        )

        # 5. Test on held-out parcels.
        photos, parcels = score_split(
            splits["test"], infer_split("test"), brands, pooling, cf_temp, brand_temp
        )
        test = summarize(photos, parcels)
        tracking.log_metrics(test, "test")
        table = recall_by_view_and_defect(photos)
        tracking.log_table(table, "recall_by_view_defect")
        tracking.log_figures(evaluation_figures(photos, parcels, brands, table), "evaluation")
        photos.drop(columns=["readable"]).to_csv(out / "test_photos.csv", index=False)
        parcels.to_csv(out / "test_parcels.csv", index=False)
        if not table.empty:
            table.to_csv(out / "recall_by_view_defect.csv", float_format="%.4f")

        # 6. Package, log, register.
        thresholds = Thresholds(
            cfg.verdict.genuine_below, cfg.verdict.counterfeit_above, cfg.verdict.min_brand_probability
        )
        meta = {
            "pooling": pooling,
            "temperature": {"counterfeit": cf_temp, "brand": brand_temp},
            "thresholds": thresholds.__dict__,
            "model": {"name": cfg.tracking.register_as or None, "run_id": run_id},
            "test_metrics": test,
        }
        package_dir = save_package(out / "model", net.to(memory_format=torch.contiguous_format), meta)
        registered = tracking.log_and_register(package_dir, cfg.tracking.register_as, cfg.tracking.alias)
        wall = time.time() - started
        tracking.mlflow.log_metric("run/wall_seconds", wall)

    result = {
        "run_id": run_id, "model_uri": registered["model_uri"], "registered": registered,
        "test": test, "pooling": pooling, "wall_seconds": round(wall, 1),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    return RunResult(run_id, registered["model_uri"], registered, test, out)
