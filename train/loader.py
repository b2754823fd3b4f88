"""The training DataLoader, built in one place for `python -m train` and the throughput benchmark."""

from __future__ import annotations

import pandas as pd
from torch.utils.data import DataLoader

from train import distributed
from train.data import sample_weights


def build_train_loader(cfg, dataset, train_df: pd.DataFrame, ctx=None) -> DataLoader:
    """Epoch-seeded draws (weighted by source when several sources or a fixed number of draws),
    this rank's shard of them, `train.batch_size / world` photos per step."""
    ctx = ctx or distributed.Context()
    draws = cfg.train.samples_per_epoch or len(train_df)
    weighted = train_df["source"].nunique() > 1 or cfg.train.samples_per_epoch
    sampler = distributed.EpochSampler(
        len(train_df), draws, sample_weights(train_df).numpy() if weighted else None,
        cfg.train.seed, ctx.rank, ctx.world,
    )
    per_rank = max(1, cfg.train.batch_size // ctx.world)
    return DataLoader(
        dataset,
        batch_size=per_rank,
        sampler=sampler,
        drop_last=sampler.per_rank > per_rank,
        num_workers=cfg.data.workers,
        # Restarting workers costs seconds an epoch; the draws carry their seeds, so they need not.
        persistent_workers=cfg.data.workers > 0,
    )
