"""Would bf16 autocast or torch.compile buy the default run more training steps on this CPU?

One run, the default network (tf_efficientnet_lite0, first three stages frozen, channels_last) at
the default 192 px and batch 32, a bare training step (forward, losses, backward, AdamW) on one
batch in memory. fp32 eager, bf16 autocast and torch.compile'd fp32 are timed in alternating
rounds (order flipped every round) so a neighbour process hurts all three; each rate is its median
round. Prints img/s and the ratios to fp32 eager, plus compile time, as one JSON line.

    python experiments/bench-train/precision_compile.py [--rounds 4] [--steps 4] [--no-compile]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infer.model import create_inspector_net  # noqa: E402
from train.engine import freeze_early_stages  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--image-size", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--no-compile", action="store_true")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    net = create_inspector_net(brands=list("abcde"), weights="imagenet", image_size=a.image_size, dropout=0.2)
    freeze_early_stages(net, 3)
    net = net.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-3)
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (a.batch_size,)).float()
    b = torch.randint(0, 5, (a.batch_size,))

    def step(model, bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            cf, brand = model(x)
        loss = F.binary_cross_entropy_with_logits(cf.float(), y) + 0.5 * F.cross_entropy(brand.float(), b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    variants = {"fp32": (net, False), "bf16_autocast": (net, True)}
    compile_s = None
    if not a.no_compile:
        compiled = torch.compile(net)
        t = time.perf_counter()
        step(compiled, False)  # the first call compiles
        compile_s = time.perf_counter() - t
        variants["compiled_fp32"] = (compiled, False)
    for model, bf16 in variants.values():
        step(model, bf16)  # warm-up
    rates = {k: [] for k in variants}
    for r in range(a.rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for k in order:
            model, bf16 = variants[k]
            t = time.perf_counter()
            for _ in range(a.steps):
                step(model, bf16)
            rates[k].append(a.steps * a.batch_size / (time.perf_counter() - t))
    med = {k: statistics.median(v) for k, v in rates.items()}
    out = {f"{k}_img_s": round(v, 1) for k, v in med.items()}
    out |= {f"{k}_ratio": round(v / med["fp32"], 2) for k, v in med.items() if k != "fp32"}
    out |= {"compile_seconds": None if compile_s is None else round(compile_s, 1),
            "threads": torch.get_num_threads(), "image_size": a.image_size, "batch_size": a.batch_size}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
