"""Training throughput: the project's loop against a bare PyTorch loop on the same network.

Project loop: what `python -m train` runs for one epoch (PhotoDataset + the configured
augmentation + DataLoader with the configured workers/sampler + train.engine.train_one_epoch:
per-batch normalize, channels_last, masked losses, build_optimizer's AdamW, warmup-cosine).
Bare loop: the same network (same backbone, frozen stages, memory format), same batch and image
size, a plain AdamW and the loss on pre-normalized batches already in memory: no augmentation, no
loader, no progress bar. The gap between the two is what the project adds around the maths.

The two are timed in alternating rounds (project, bare, bare, project, ...), so a neighbour
process stealing the CPU for a while hurts both; each side's rate is taken from its median round.

    python experiments/bench-train/bench.py                 # default config's settings
    python experiments/bench-train/bench.py --workers 0     # any setting can be overridden
    python experiments/bench-train/bench.py --profile       # where the time goes, per batch

The last line printed is one JSON object with project_img_s, bare_img_s and ratio.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from infer.model import create_inspector_net  # noqa: E402
from infer.preprocess import normalize  # noqa: E402
from train import distributed  # noqa: E402
from train.augment import build_augment  # noqa: E402
from train.config import load_config  # noqa: E402
from train.data import PhotoDataset, decode_all  # noqa: E402
from train.engine import (  # noqa: E402
    build_optimizer,
    freeze_early_stages,
    train_one_epoch,
    warmup_cosine,
)
from train.loader import build_train_loader  # noqa: E402

BRANDS = ["adidas", "asics", "new-balance", "nike", "puma"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=None, help="YAML config (default: configs/default.yaml)")
    p.add_argument("--image-size", type=int, default=None, help="default: data.image_size")
    p.add_argument("--batch-size", type=int, default=None, help="default: train.batch_size")
    p.add_argument("--workers", type=int, default=None, help="default: data.workers")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads, both loops (default: train.threads, 0 = torch's)")
    p.add_argument("--steps", type=int, default=6, help="timed optimizer steps per round")
    p.add_argument("--rounds", type=int, default=8, help="timed rounds per loop (alternating)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per loop first")
    p.add_argument("--photos", type=int, default=384, help="training photos (at least one round)")
    p.add_argument("--from-jpeg", action="store_true",
                   help="write the photos as JPEGs and load them through decode_all (the decoded cache)")
    p.add_argument("--profile", action="store_true", help="also print a per-batch cost breakdown")
    p.add_argument("overrides", nargs="*", help="config key=value overrides, as for python -m train")
    return p.parse_args(argv)


def make_photos(n: int, size: int, from_jpeg: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if not from_jpeg:
        return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(n):
            # Phone-like 4:3 photos, larger than the model input, so decode_all drafts and letterboxes.
            arr = rng.integers(0, 256, (size * 3 // 2, size * 2, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(arr).save(buf, "JPEG", quality=85)
            path = Path(tmp) / f"{i}.jpg"
            path.write_bytes(buf.getvalue())
            paths.append(str(path))
        images, errors = decode_all(paths, size, desc="decode")
    assert not any(errors), errors
    return images


def make_table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, n).astype(float)
    return pd.DataFrame({
        "path": [f"{i}.jpg" for i in range(n)],
        "source": "0:synthetic",
        "source_weight": 1.0,
        "target": target,
        "train_target": target,
        "brand": [BRANDS[k] for k in rng.integers(0, len(BRANDS), n)],
    })


def make_net(cfg, size: int):
    net = create_inspector_net(name=cfg.model.name, brands=BRANDS, weights=cfg.model.weights,
                               image_size=size, dropout=cfg.model.dropout)
    freeze_early_stages(net, cfg.train.freeze_stages)
    if cfg.train.channels_last:
        net = net.to(memory_format=torch.channels_last)
    return net


def replace_batch(cfg, batch: int, workers: int):
    cfg = copy.deepcopy(cfg)
    cfg.train.batch_size, cfg.data.workers = batch, workers
    return cfg


class Project:
    """Built as train.build builds it for a fit: the same loader function, and each
    round reseeded like an epoch."""

    def __init__(self, cfg, net, images, df, batch: int, workers: int, steps_per_round: int):
        self.cfg, self.net = cfg, net
        dataset = PhotoDataset(images, df, BRANDS, build_augment(cfg.train.augment, cfg.train.hflip))
        self.loader = build_train_loader(replace_batch(cfg, batch, workers), dataset, df)
        self.epoch = 0
        self.optimizer = build_optimizer(
            net, cfg.train.lr, cfg.train.backbone_lr_scale, cfg.train.weight_decay,
            cfg.train.layer_decay,
        )
        total = cfg.train.epochs * max(steps_per_round, len(self.loader))
        self.scheduler = warmup_cosine(self.optimizer, total, int(cfg.train.warmup_epochs * len(self.loader)))

    def run(self, steps: int) -> None:
        distributed.seed_epoch(self.cfg.train.seed, self.epoch, distributed.Context(), self.loader)
        self.epoch += 1
        train_one_epoch(
            self.net, self.loader, self.optimizer, self.scheduler,
            brand_weight=self.cfg.train.brand_loss_weight,
            channels_last=self.cfg.train.channels_last,
            max_steps=steps,
            desc="project",
        )


class Bare:
    def __init__(self, cfg, net, images, df, batch: int, n_batches: int = 4):
        self.net, self.brand_weight = net, cfg.train.brand_loss_weight
        params = [p for p in net.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        fmt = torch.channels_last if cfg.train.channels_last else torch.contiguous_format
        brand_index = {b: i for i, b in enumerate(BRANDS)}
        self.batches = []
        for k in range(n_batches):
            rows = slice(k * batch, (k + 1) * batch)
            x = normalize(images[rows], net.spec.mean, net.spec.std).contiguous(memory_format=fmt)
            y = torch.tensor(df["target"].to_numpy()[rows], dtype=torch.float32)
            b = torch.tensor([brand_index[v] for v in df["brand"].iloc[rows]], dtype=torch.long)
            self.batches.append((x, y, b))

    def run(self, steps: int) -> None:
        self.net.train()
        for step in range(steps):
            x, y, b = self.batches[step % len(self.batches)]
            cf, brand = self.net(x)
            loss = F.binary_cross_entropy_with_logits(cf, y) + self.brand_weight * F.cross_entropy(brand, b)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()


def _worker_cpu_s(loader) -> float:
    """CPU seconds used so far by a DataLoader's worker processes (Linux /proc; 0 if none)."""
    workers = getattr(getattr(loader, "_iterator", None), "_workers", None) or []
    total = 0.0
    for proc in workers:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def timed(fn, steps: int, loader=None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process plus the loader's workers) for `steps`."""
    wall, cpu, workers = time.perf_counter(), time.process_time(), _worker_cpu_s(loader)
    fn(steps)
    cpu_s = time.process_time() - cpu + _worker_cpu_s(loader) - workers
    return time.perf_counter() - wall, cpu_s


def profile(cfg, net, images, df, batch: int, workers: int, batches: int = 6) -> dict:
    """Per-batch costs of each stage, measured one at a time in this process."""
    aug = build_augment(cfg.train.augment, cfg.train.hflip)
    dataset = PhotoDataset(images, df, BRANDS, aug)
    n = batches * batch
    t = time.perf_counter()
    items = [dataset[i % len(dataset)] for i in range(n)]
    per_image_ms = (time.perf_counter() - t) / n * 1e3
    t = time.perf_counter()
    for k in range(batches):
        torch.utils.data.default_collate(items[k * batch : (k + 1) * batch])
    collate_ms = (time.perf_counter() - t) / batches * 1e3
    uint8 = torch.utils.data.default_collate(items[:batch])[0]
    t = time.perf_counter()
    for _ in range(batches):
        x = normalize(uint8, net.spec.mean, net.spec.std)
        if cfg.train.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
    normalize_ms = (time.perf_counter() - t) / batches * 1e3
    net = copy.deepcopy(net).train()
    opt = build_optimizer(net, cfg.train.lr, cfg.train.backbone_lr_scale, cfg.train.weight_decay)
    y = torch.zeros(batch)
    b = torch.zeros(batch, dtype=torch.long)
    fwd, bwd, step = [], [], []
    for _ in range(batches):
        t0 = time.perf_counter()
        cf, brand = net(x)
        loss = F.binary_cross_entropy_with_logits(cf, y) + F.cross_entropy(brand, b)
        t1 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
        step.append(t3 - t2)
    # Loader alone: how fast the configured DataLoader delivers batches with nothing else running.
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True, num_workers=workers)
    it = iter(loader)
    next(it)
    t = time.perf_counter()
    got = 0
    for _ in range(min(batches, len(loader) - 1)):
        next(it)
        got += 1
    loader_ms = (time.perf_counter() - t) / max(1, got) * 1e3
    del it
    out = {
        "augment_ms_per_image": per_image_ms,
        "augment_ms_per_batch": per_image_ms * batch,
        "collate_ms_per_batch": collate_ms,
        "loader_ms_per_batch": loader_ms,
        "normalize_ms_per_batch": normalize_ms,
        "forward_ms": 1e3 * statistics.median(fwd),
        "backward_ms": 1e3 * statistics.median(bwd),
        "optimizer_ms": 1e3 * statistics.median(step),
    }
    out["model_ms_per_batch"] = out["forward_ms"] + out["backward_ms"] + out["optimizer_ms"]
    out["data_share_if_serial"] = (out["augment_ms_per_batch"] + out["collate_ms_per_batch"]
                                   + out["normalize_ms_per_batch"]) / out["model_ms_per_batch"]
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    size = args.image_size or cfg.data.image_size
    batch = args.batch_size or cfg.train.batch_size
    workers = cfg.data.workers if args.workers is None else args.workers
    threads = cfg.train.threads if args.threads is None else args.threads
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(cfg.train.seed)
    n = max(args.photos, (args.steps + 1) * batch, 4 * batch)
    images = make_photos(n, size, args.from_jpeg)
    df = make_table(n)
    project_net = make_net(cfg, size)
    bare_net = copy.deepcopy(project_net)
    project = Project(cfg, project_net, images, df, batch, workers, args.steps)
    bare = Bare(cfg, bare_net, images, df, batch)
    setup = {
        "image_size": size, "batch_size": batch, "workers": workers, "steps": args.steps,
        "rounds": args.rounds, "photos": n, "augment": cfg.train.augment, "hflip": cfg.train.hflip,
        "channels_last": cfg.train.channels_last, "freeze_stages": cfg.train.freeze_stages,
        "model": cfg.model.name, "torch_threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "from_jpeg": args.from_jpeg,
    }
    print("setup", json.dumps(setup), flush=True)
    if args.profile:
        print("profile", json.dumps({k: round(v, 3) for k, v in
                                     profile(cfg, project_net, images, df, batch, workers).items()}),
              flush=True)

    timed(project.run, args.warmup)
    timed(bare.run, args.warmup)
    wall: dict[str, list[float]] = {"project": [], "bare": []}
    cpu: dict[str, list[float]] = {"project": [], "bare": []}
    loops = (("project", project, project.loader), ("bare", bare, None))
    for r in range(args.rounds):
        for name, loop, loader in loops if r % 2 == 0 else reversed(loops):
            w, c = timed(loop.run, args.steps, loader)
            wall[name].append(w)
            cpu[name].append(c)
        print(f"round {r + 1}: project {wall['project'][-1]:.2f}s ({cpu['project'][-1]:.2f} CPU s)  "
              f"bare {wall['bare'][-1]:.2f}s ({cpu['bare'][-1]:.2f} CPU s) for {args.steps} steps",
              flush=True)
    images_per_round = args.steps * batch
    project_img_s = images_per_round / statistics.median(wall["project"])
    bare_img_s = images_per_round / statistics.median(wall["bare"])
    cpu_ms = {k: 1e3 * statistics.median(v) / images_per_round for k, v in cpu.items()}
    result = {
        "project_img_s": round(project_img_s, 2),
        "bare_img_s": round(bare_img_s, 2),
        "ratio": round(project_img_s / bare_img_s, 3),
        "round_ratios": [round(b / p, 3) for p, b in zip(wall["project"], wall["bare"], strict=True)],
        # Each round's pair ran back to back: robust to load that comes and goes between rounds.
        "median_round_ratio": round(statistics.median(
            b / p for p, b in zip(wall["project"], wall["bare"], strict=True)), 3),
        # CPU work per image, whatever else ran meanwhile: the project's extra work, free of
        # waiting (but spinning OpenMP threads count, so compare like with like).
        "project_cpu_ms_per_img": round(cpu_ms["project"], 2),
        "bare_cpu_ms_per_img": round(cpu_ms["bare"], 2),
        "image_size": size,
        "batch_size": batch,
        "workers": workers,
        "threads": torch.get_num_threads(),
        "steps": args.steps,
        "rounds": args.rounds,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
