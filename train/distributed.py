"""Data-parallel training under `torchrun`, and the randomness that makes runs resumable.

Every rank decodes the same photos and computes the same grouped split (both deterministic), so
no split is ever communicated; ranks differ only in which draws of an epoch they train on and
which photos they score at evaluation, and the scores are gathered back in order. With one
process all of this reduces to plain single-process training.

`train.batch_size` is the global batch: each of N ranks takes batch_size / N photos a step, so a
run on N processes sees the same photos per step and the same schedule as a run on one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def init() -> Context:
    """Join the process group torchrun describes in the environment (none: one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        backend, device = "nccl", torch.device("cuda", local_rank)
    else:
        backend, device = "gloo", torch.device("cpu")
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Context(rank, world, local_rank, device)


def shutdown(ctx: Context) -> None:
    if ctx.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """One seed per (run seed, epoch, rank): an epoch's randomness does not depend on what ran
    before it, so a resumed run repeats exactly the epochs an uninterrupted one would."""
    return int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1)[0])


class EpochSampler(Sampler[tuple[int, int]]):
    """An epoch's draws (weighted with replacement, or a shuffled pass), seeded by epoch and cut
    into interleaved shards, one per rank: global batch k is draws[k*B:(k+1)*B] whatever N is.

    Each draw is (index, augmentation seed): the dataset reseeds its augmentation per draw, so
    what a photo looks like depends on (run seed, epoch, position) only, not on which worker or
    rank handles it, and a resumed run sees exactly the images an uninterrupted one would."""

    def __init__(self, n: int, draws: int, weights: np.ndarray | None, seed: int, rank: int = 0,
                 world: int = 1):
        self.n, self.draws, self.seed, self.rank, self.world = n, draws, seed, rank, world
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.double)
        self.epoch = 0
        self.per_rank = -(-draws // world)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self):
        g = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
        if self.weights is not None:
            order = torch.multinomial(self.weights, self.draws, replacement=True, generator=g)
        else:
            order = torch.cat([torch.randperm(self.n, generator=g)
                               for _ in range(-(-self.draws // self.n))])[: self.draws]
        seeds = torch.randint(0, 2**31 - 1, (self.draws,), generator=g)
        pad = self.per_rank * self.world - self.draws
        order, seeds = torch.cat([order, order[:pad]]), torch.cat([seeds, seeds[:pad]])
        mine = zip(order[self.rank :: self.world].tolist(), seeds[self.rank :: self.world].tolist(),
                   strict=True)
        return iter(list(mine))


def seed_epoch(seed: int, epoch: int, ctx: Context, loader) -> None:
    """The rest of an epoch's randomness (dropout) follows from (seed, epoch, rank) too."""
    torch.manual_seed(epoch_seed(seed, epoch, ctx.rank))
    loader.sampler.set_epoch(epoch)


def gather_rows(ctx: Context, n: int, predict):
    """Run `predict(index_array)` on this rank's contiguous share of n rows and return the
    outputs of all ranks concatenated in row order (a tuple of arrays, like predict's)."""
    if not ctx.active:
        return predict(np.arange(n))
    share = np.array_split(np.arange(n), ctx.world)[ctx.rank]
    mine = predict(share)
    parts: list = [None] * ctx.world
    dist.all_gather_object(parts, mine)
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(len(mine)))


def sync_buffers(module: torch.nn.Module, ctx: Context) -> None:
    """Every rank evaluates with rank 0's batch-norm statistics (DDP broadcasts them at each
    forward, but the last step's update is local), so all ranks score identically."""
    if ctx.active:
        for buffer in module.buffers():
            dist.broadcast(buffer.data, src=0)
