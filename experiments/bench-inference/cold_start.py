"""Cold start of `python -m infer`: the whole command, process start to verdict, per backend.

The inspection app (or a batch job) that starts a process per parcel pays the imports every
time. With `--backend onnx` (the default `auto` picks it when the package has model.onnx) the
process never imports torch or timm; with `--backend torch` it does. Each command runs as a
fresh subprocess, the two backends alternating, on a 3-photo parcel of 1-MP JPEGs.

    python experiments/bench-inference/cold_start.py --model runs/smoke/model
    python experiments/bench-inference/cold_start.py --model models:/counterfeit-inspector@candidate

Prints one JSON object: median wall seconds per backend, their ratio, and the load average
(above the core count means the timings were shared with other processes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def photos(folder: Path, n: int = 3) -> list[str]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        base = np.linspace(0, 255, 1155, dtype=np.float32)[None, :, None] * np.ones((866, 1, 3))
        img = (base + rng.normal(0, 12, (866, 1155, 3))).clip(0, 255).astype(np.uint8)
        path = folder / f"photo-{i}.jpg"
        Image.fromarray(img).save(path, quality=90)
        paths.append(str(path))
    return paths


def run(model: str, backend: str, inputs: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "infer", *inputs, "--json", "--model", model,
                           "--backend", backend], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{backend}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return elapsed


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="package folder or MLflow URI")
    parser.add_argument("--rounds", type=int, default=5, help="commands per backend")
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    times: dict[str, list[float]] = {"onnx": [], "torch": []}
    with tempfile.TemporaryDirectory() as tmp:
        inputs = photos(Path(tmp))
        run(args.model, "onnx", inputs)  # warm the page cache for both: not timed
        run(args.model, "torch", inputs)
        for r in range(args.rounds):
            order = ("onnx", "torch") if r % 2 == 0 else ("torch", "onnx")
            for backend in order:
                times[backend].append(run(args.model, backend, inputs))
    onnx_s, torch_s = statistics.median(times["onnx"]), statistics.median(times["torch"])
    result = {
        "model": args.model,
        "rounds": args.rounds,
        "onnx_median_s": round(onnx_s, 2),
        "torch_median_s": round(torch_s, 2),
        "torch_over_onnx": round(torch_s / onnx_s, 2),
        "loadavg_start": round(load_start, 2),
        "loadavg_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
