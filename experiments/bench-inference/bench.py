"""Serving latency: one 6-photo parcel through the Inspector, eager PyTorch and ONNX Runtime.

Makes its own photos (smooth colour fields, shapes, gradients and sensor-like noise, saved as
JPEG so decoding costs what a phone photo costs): 6-photo parcels of 12-megapixel (4000x3000)
and of 1-megapixel (1155x866) JPEGs. Measures, on the same parcels:

* per parcel, files to verdict (decode included): the eager Inspector and the ONNX one;
* decode excluded, letterboxed arrays to verdict (`forward_arrays` + pooling + verdict) against
  the bare network on the same normalised tensor (`net(x)`; and `session.run(x)` for ONNX);
* decoding a 12-MP JPEG at full resolution + letterbox against the draft decode the Inspector
  uses (`load_photo(min_size=image_size)`: the JPEG decoder's 1/2..1/8 DCT scaling);
* what reading and checking the labels adds (`infer.labels`): the ONNX Inspector with labels
  on against the same with labels off, on 12-MP parcels whose last two photos show a size tag
  and a box label (drawn, at the size a phone photo of a tag prints them).

Eager and ONNX (and project and bare) are timed in alternating order, round after round, so a
neighbour process stealing the CPU hurts both sides; every figure is a median over rounds
after warm-up rounds.

    python experiments/bench-inference/bench.py                   # untrained lite0 at 224
    python experiments/bench-inference/bench.py --model runs/default/model
    python experiments/bench-inference/bench.py --model models:/counterfeit-inspector@candidate

The last line printed is one JSON object (see README.md for the keys).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PHOTOS_PER_PARCEL = 6
SIZES = {"12mp": (4000, 3000), "1mp": (1155, 866)}
BRANDS = ["adidas", "asics", "new-balance", "nike", "puma"]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="package folder or MLflow URI (default: untrained lite0 package)")
    p.add_argument("--image-size", type=int, default=224, help="for the default model only")
    p.add_argument("--rounds", type=int, default=20, help="timed rounds per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    p.add_argument("--decode-rounds", type=int, default=5, help="timed rounds of the decode check")
    p.add_argument("--parcels", type=int, default=2, help="distinct parcels per photo size")
    p.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads")
    return p.parse_args(argv)


# -- photos (module level and torch-free: built in spawned worker processes) -------------------
def make_photo(job: tuple[str, int, int, int]) -> int:
    """A JPEG that compresses like a photo: smooth areas, hard edges, fine noise."""
    path, width, height, seed = job
    rng = np.random.default_rng(seed)

    def field(cells_x: int) -> np.ndarray:
        cells = rng.integers(0, 256, (max(2, cells_x * height // width), cells_x, 3), np.uint8)
        return np.asarray(Image.fromarray(cells).resize((width, height), Image.Resampling.BICUBIC))

    base = Image.fromarray((field(6) * 0.7 + field(60) * 0.3).astype(np.uint8))
    draw = ImageDraw.Draw(base)
    for _ in range(12):  # objects: edges and flat regions, like a shoe and its box on a table
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        box = [x0, y0, x0 + rng.integers(width // 20, width // 3), y0 + rng.integers(height // 20, height // 3)]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    if Path(path).stem.endswith(LABEL_MARK):  # a size tag or a box label, a third of the frame wide
        _draw_label(draw, width, height, rng)
    pixels = np.asarray(base, np.int16)
    ramp = np.linspace(-25, 25, width, dtype=np.float32).astype(np.int16)[None, :, None]
    noise = rng.integers(-6, 7, pixels.shape, dtype=np.int16)  # sensor noise: what JPEG pays for
    out = np.clip(pixels + ramp + noise, 0, 255).astype(np.uint8)
    Image.fromarray(out).save(path, "JPEG", quality=90)
    return Path(path).stat().st_size


LABEL_MARK = "-tag"  # the file name ends with it; the parcel kind "12mp-labels" must not match
LABEL_LINES = ["MADE IN VIETNAM", "FABRIQUE AU VIETNAM", "555088-101  02/09/15", "12/10/14",
               "US 10  UK 9  EUR 44  CM 28", "UPC 00885259846193"]


def _draw_label(draw: ImageDraw.ImageDraw, width: int, height: int, rng: np.random.Generator) -> None:
    from PIL import ImageFont

    x0, y0 = int(width * rng.uniform(0.2, 0.4)), int(height * rng.uniform(0.2, 0.35))
    line = height // 28
    draw.rectangle((x0, y0, x0 + width // 3, y0 + line * 9), fill=(240, 238, 232))
    font = ImageFont.load_default(size=int(line * 0.7))
    for i, text in enumerate(LABEL_LINES):
        draw.text((x0 + line, y0 + line * (0.8 + 1.3 * i)), text, fill=(25, 25, 25), font=font)


def make_parcels(folder: Path, n_parcels: int) -> dict[str, list[list[str]]]:
    jobs, parcels = [], {}
    for kind, (w, h) in {**SIZES, "12mp-labels": SIZES["12mp"]}.items():
        parcels[kind] = []
        for p in range(n_parcels):
            labelled = kind.endswith("labels")
            paths = [str(folder / f"{kind}-p{p}-{i}{LABEL_MARK if labelled and i >= 4 else ''}.jpg")
                     for i in range(PHOTOS_PER_PARCEL)]
            parcels[kind].append(paths)
            jobs += [(path, w, h, len(jobs) + i) for i, path in enumerate(paths)]
    # Spawned workers: both cores while generating, and the 12-MP arrays never count towards
    # this process's peak RSS.
    with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=get_context("spawn")) as pool:
        sizes = list(pool.map(make_photo, jobs))
    for kind in SIZES:
        mine = [s for (path, *_), s in zip(jobs, sizes, strict=True) if Path(path).name.startswith(kind + "-p")]
        print(f"photos {kind}: {len(mine)} JPEGs, {np.mean(mine) / 1e6:.2f} MB each")
    return parcels


# -- model ------------------------------------------------------------------------------------
def default_package(folder: Path, image_size: int, photos: list[str]) -> tuple[Path, float]:
    """Untrained lite0 (ImageNet backbone) packaged as training would: thresholds, calibration,
    an OOD density (fitted on the benchmark's own photos, so the OOD scoring cost is paid)."""
    from infer.model import create_inspector_net, predict_arrays
    from infer.ood import FeatureDensity
    from infer.package import save_package
    from infer.photos import load_photo
    from infer.preprocess import letterbox
    from infer.verdict import Thresholds

    net = create_inspector_net(brands=BRANDS, weights="imagenet", image_size=image_size).eval()
    arrays = np.stack([letterbox(load_photo(p, min_size=image_size), image_size) for p in photos])
    *_, feats = predict_arrays(net, arrays, features=True)
    ood = FeatureDensity.fit(feats)
    ood.set_threshold(feats)
    meta = {
        "pooling": "log_mean_exp",
        "temperature": {"counterfeit": 1.0, "brand": 1.0},
        "thresholds": Thresholds().__dict__,
        "model": {"name": "bench-untrained", "version": None, "run_id": None},
    }
    started = time.perf_counter()
    save_package(folder, net, meta, ood)
    return folder, time.perf_counter() - started


# -- timing -----------------------------------------------------------------------------------
def ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def alternate(named: dict, rounds: int, warmup: int, inputs: list) -> dict[str, list[float]]:
    """Each callable once per round, the order rotated each round; warm-up rounds dropped."""
    names = list(named)
    times = {n: [] for n in names}
    for r in range(warmup + rounds):
        x = inputs[r % len(inputs)]
        order = names[r % len(names):] + names[: r % len(names)]
        for n in order:
            t = ms(lambda n=n, x=x: named[n](x))
            if r >= warmup:
                times[n].append(t)
    return times


def p50(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def summary(times: dict[str, list[float]]) -> str:
    return ", ".join(f"{n} p50 {p50(t):.1f} ms (p95 {p95(t):.1f})" for n, t in times.items())


def main(argv=None) -> dict:
    args = parse_args(argv)
    load_start = os.getloadavg()[0]
    import torch

    from infer.inspector import Inspector, PhotoScores
    from infer.photos import load_photo
    from infer.preprocess import letterbox, normalize

    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    import_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    print(f"cpus {os.cpu_count()}, torch/onnxruntime threads {threads}, load average {load_start:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        parcels = make_parcels(tmp, args.parcels)
        print(f"photos made in {time.perf_counter() - started:.1f} s")
        export_s = None
        if args.model:
            model = args.model
        else:
            # In a child: the export's imports and memory are the trainer's, not the server's.
            with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
                model, export_s = pool.submit(
                    default_package, tmp / "model", args.image_size, parcels["1mp"][0]).result()
            print(f"default model: untrained lite0 at {args.image_size}, package saved "
                  f"(incl. ONNX export) in {export_s:.1f} s")
        # The image model's figures without label reading, which has its own line (4).
        eager = Inspector.load(model, labels=False)
        fast = Inspector.load(model, backend="onnx", labels=False)
        reading = Inspector.load(model, backend="onnx", labels=True)
        size = eager.spec.image_size
        print(f"model {eager.spec.backbone} at {size} px, "
              f"ood {'yes' if eager.ood else 'no'}")
        backends = {"eager": eager.inspect, "onnx": fast.inspect}

        # 1. Files to verdict, per 6-photo parcel.
        per_parcel = {}
        for kind in SIZES:
            per_parcel[kind] = alternate(backends, args.rounds, args.warmup, parcels[kind])
            print(f"parcel {kind}: {summary(per_parcel[kind])}")

        # 2. Decode excluded: letterboxed arrays to verdict vs the bare network.
        arrays = [np.stack([letterbox(load_photo(p, min_size=size), size) for p in parcel])
                  for parcel in parcels["12mp"]]
        tensors = [normalize(a, eager.spec.mean, eager.spec.std) for a in arrays]
        names = [f"photo{i}" for i in range(PHOTOS_PER_PARCEL)]

        def to_verdict(inspector):
            def run(a):
                cf, probs, ood = inspector.forward_arrays(a)
                scores = PhotoScores(names, cf, probs, [None] * len(a), ood)
                return inspector.verdict_from_scores(scores, "bench")
            return run

        def bare_torch(x):
            with torch.inference_mode():
                eager.net(x)

        session = fast.onnx.session
        forward = alternate(
            {
                "eager": lambda i: to_verdict(eager)(arrays[i]),
                "bare_torch": lambda i: bare_torch(tensors[i]),
                "onnx": lambda i: to_verdict(fast)(arrays[i]),
                "bare_onnx": lambda i: session.run(None, {"images": tensors[i].numpy()}),
            },
            args.rounds, args.warmup, list(range(len(arrays))),
        )
        print(f"arrays to verdict (6 photos): {summary(forward)}")

        # 3. Decoding a 12-MP JPEG: full resolution vs draft, both letterboxed.
        photos = [p for parcel in parcels["12mp"] for p in parcel]
        decode = alternate(
            {
                "full": lambda ps: [letterbox(load_photo(p), size) for p in ps],
                "draft": lambda ps: [letterbox(load_photo(p, min_size=size), size) for p in ps],
            },
            args.decode_rounds, 1, parcels["12mp"],
        )
        print(f"decode + letterbox, 6 x 12-MP JPEGs: {summary(decode)} ({len(photos)} photos)")

        # 4. What reading and checking the labels adds to a 12-MP parcel with a tag and a box.
        verdict = reading.inspect(parcels["12mp-labels"][0], parcel_id="bench")
        read = [line["text"] for label in verdict.labels for line in label["lines"]]
        print(f"labels read on the bench parcel: {read}")
        labels = alternate({"onnx": fast.inspect, "onnx_labels": reading.inspect},
                           args.rounds, args.warmup, parcels["12mp-labels"])
        print(f"parcel 12mp with a tag and a box label: {summary(labels)}")

    e12, o12 = per_parcel["12mp"]["eager"], per_parcel["12mp"]["onnx"]
    e1, o1 = per_parcel["1mp"]["eager"], per_parcel["1mp"]["onnx"]
    result = {
        "p50_ms": round(p50(e12), 1),
        "p95_ms": round(p95(e12), 1),
        "onnx_p50_ms": round(p50(o12), 1),
        "onnx_p95_ms": round(p95(o12), 1),
        "onnx_speedup": round(p50(e12) / p50(o12), 3),
        "mp1_p50_ms": round(p50(e1), 1),
        "mp1_onnx_p50_ms": round(p50(o1), 1),
        "mp1_onnx_speedup": round(p50(e1) / p50(o1), 3),
        "forward_p50_ms": round(p50(forward["eager"]), 1),
        "onnx_forward_p50_ms": round(p50(forward["onnx"]), 1),
        "bare_forward_p50_ms": round(p50(forward["bare_torch"]), 1),
        "bare_onnx_forward_p50_ms": round(p50(forward["bare_onnx"]), 1),
        "onnx_forward_speedup": round(p50(forward["eager"]) / p50(forward["onnx"]), 3),
        "overhead_vs_bare": round(p50(forward["eager"]) / p50(forward["bare_torch"]), 3),
        "onnx_overhead_vs_bare": round(p50(forward["onnx"]) / p50(forward["bare_onnx"]), 3),
        "decode_full_ms": round(p50(decode["full"]), 1),
        "decode_draft_ms": round(p50(decode["draft"]), 1),
        "decode_speedup": round(p50(decode["full"]) / p50(decode["draft"]), 2),
        "labels_p50_ms": round(p50(labels["onnx_labels"]) - p50(labels["onnx"]), 1),
        "labels_parcel_p50_ms": round(p50(labels["onnx_labels"]), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "import_rss_mb": round(import_rss, 1),
        "threads": threads,
        "image_size": size,
        "export_s": None if export_s is None else round(export_s, 1),
        "rounds": args.rounds,
        "loadavg_start": round(load_start, 2),
        "loadavg_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
