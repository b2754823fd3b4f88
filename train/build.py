"""Build the model of a run and what trains it: network, augmentation, loader, optimizer and
schedule, each from the config."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn.parallel import DistributedDataParallel

from infer.model import InspectorNet, create_inspector_net
from train import tracking
from train.augment import build_augment
from train.config import Config
from train.data import (
    SAME,
    PhotoDataset,
    brand_class_weights,
    photo_targets,
    sample_weights,
    trains_brand,
)
from train.distributed import Context
from train.engine import build_optimizer, freeze_early_stages, warmup_cosine
from train.loader import build_train_loader
from train.warm_start import init_from


@dataclass
class Training:
    """What one fit needs besides the network: the wrapped model that steps, the loader, the
    optimizer, the schedule and the brand loss weights."""

    model: torch.nn.Module  # the network, or its DistributedDataParallel wrapper
    loader: torch.utils.data.DataLoader
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    class_weights: torch.Tensor | None


def training_rows(cfg: Config, train_split: pd.DataFrame, images: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The readable training photos, with what each head learns from each of them."""
    keep = train_split["readable"].to_numpy()
    rows = train_split[keep].reset_index(drop=True)
    rows["train_target"] = photo_targets(rows, cfg.train.photo_targets)
    rows["brand"] = rows["brand"].where(trains_brand(rows, cfg.data.brand_sources), "")
    return rows, images[train_split.index.to_numpy()[keep]]


def build_model(cfg: Config, brands: list[str], ctx: Context) -> InspectorNet:
    net = create_inspector_net(name=cfg.model.name, brands=brands, weights=cfg.model.weights,
                               image_size=cfg.data.image_size, dropout=cfg.model.dropout)
    net.spec.shoe_crop = cfg.model.shoe_crop
    if cfg.model.init:
        report = init_from(net, cfg.model.init)
        print(f"initialised {report['loaded']} tensors from {report['source']}; fresh: {report['fresh']}")
        tracking.log_json(report, "init.json")
    freeze_early_stages(net, cfg.train.freeze_stages)
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net.to(ctx.device)


def build_training(cfg: Config, net: InspectorNet, rows: pd.DataFrame, images: np.ndarray,
                   brands: list[str], ctx: Context) -> Training:
    # Mirrored photos for real shoes (a left shoe is a mirrored right one), never for the
    # synthetic parcels, whose mirrored label text is itself a counterfeit cue.
    unmirrored = SAME
    if cfg.train.hflip and rows["synthetic"].any():
        unmirrored = build_augment(cfg.train.augment, False)
    dataset = PhotoDataset(images, rows, brands, build_augment(cfg.train.augment, cfg.train.hflip), unmirrored)
    loader = build_train_loader(cfg, dataset, rows, ctx)
    class_weights = None
    if cfg.train.brand_balance:
        class_weights = brand_class_weights(rows, brands, sample_weights(rows).numpy())
        tracking.log_json(dict(zip(brands, class_weights.tolist(), strict=True)), "brand_class_weights.json")
    steps_per_epoch = len(loader)
    if cfg.train.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, cfg.train.max_steps_per_epoch)
    optimizer = build_optimizer(
        net, cfg.train.lr, cfg.train.backbone_lr_scale, cfg.train.weight_decay, cfg.train.layer_decay
    )
    scheduler = warmup_cosine(
        optimizer, cfg.train.epochs * steps_per_epoch, int(cfg.train.warmup_epochs * steps_per_epoch)
    )
    model = net
    if ctx.active:
        model = DistributedDataParallel(net, device_ids=[ctx.local_rank] if ctx.device.type == "cuda" else None)
    return Training(model, loader, optimizer, scheduler, class_weights)
