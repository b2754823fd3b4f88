"""Find the line, then read it: a two-stage reader trained on the generator's labels.

A probe, not shipped code. `reader_probe.py` showed that a reader left to find the "made in" line
by itself never finds it. The generator now writes where each printed line lies
(`printed_quads`, format 4), so the two jobs can be taught apart:

1. *find*: a small encoder-decoder marks, at half the photo's resolution, the pixels of the
   brand-name line and of the "made in" line (one mask each, the filled corners of the line's
   text). The largest blob of each mask, fitted with a rotated rectangle, is the line's box.
2. *read*: the box is cut out and straightened to 32 x 192 px (grey), and a small CRNN reads it
   with a CTC loss against the manifest's `printed` (typos included, spaces left out). It is
   trained on the boxes the finder draws on the training photos, jittered, not on the true
   ones: the finder's boxes come out a little taller and longer than the text, and the reader
   must read what the finder gives it.

    python experiments/synthetic-baseline/line_reader.py train \
        --manifest datasets/reader-train/manifest.csv --out runs/line-reader
    python experiments/synthetic-baseline/line_reader.py read --reader runs/line-reader \
        --manifest datasets/synthetic-eval-seed7/manifest.csv --out runs/line-reader/reads-seed7.csv

`read` writes the manifest's tag and box rows with what was read (`read_name`, `read_made`, and
`ocr`, the column `ocr_probe.py --reads` takes) and prints how often each line was read exactly,
through the finder's boxes and, for comparison, through the true ones.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import reader_probe
import torch
from PIL import Image, ImageDraw
from reader_probe import (  # this folder
    Alphabet,
    _cbr,
    _sep,
    cli,
    decode,
    exact_rates,
    optimiser,
    step,
    to_batch,
)
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

LINES = ("name", "made")
MASK = 112  # the finder's output: half of a 224 px photo
CROP_H, CROP_W = 32, 192


def print_rows(manifest: Path) -> pd.DataFrame:
    rows = reader_probe.print_rows(manifest)
    if "printed_quads" not in rows:
        raise SystemExit(f"{manifest}: no printed_quads column (generator format 4 or later)")
    return rows


def quads_of(rows: pd.DataFrame) -> np.ndarray:
    """(N, 2, 4, 2): the name and "made in" corners of every row, in photo pixels."""
    return np.stack([np.array(q.replace(";", " ").split(), np.float32).reshape(2, 4, 2)
                     for q in rows.printed_quads])


def masks_of(quads: np.ndarray, photo: int) -> np.ndarray:
    out = np.zeros((len(quads), len(LINES), MASK, MASK), np.uint8)
    s = MASK / photo
    for i, qs in enumerate(quads):
        for j, q in enumerate(qs):
            im = Image.new("L", (MASK, MASK), 0)
            ImageDraw.Draw(im).polygon([tuple(p) for p in q * s], fill=1)
            out[i, j] = np.asarray(im)
    return out


class Finder(nn.Module):
    """Encoder-decoder to a map per line at a quarter of the photo's resolution, upsampled to
    MASK x MASK. Space-to-depth keeps every pixel while the maps stay small enough for 2 cores."""

    def __init__(self):
        super().__init__()
        self.enc1 = nn.Sequential(nn.PixelUnshuffle(4), _cbr(48, 64))  # 56
        self.enc2 = nn.Sequential(_cbr(64, 96, 2), _sep(96, 96), _sep(96, 96))  # 28: context
        self.dec1 = _sep(96 + 64, 64)
        self.out = nn.Conv2d(64, len(LINES), 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        d1 = self.dec1(torch.cat([F.interpolate(e2, scale_factor=2.0), e1], 1))
        return F.interpolate(self.out(d1), size=(MASK, MASK), mode="bilinear", align_corners=False)


class LineReader(nn.Module):
    """CRNN on a straightened CROP_H x CROP_W grey crop: CROP_W / 2 columns of letter scores."""

    def __init__(self, n_symbols: int):
        super().__init__()
        self.body = nn.Sequential(
            _cbr(1, 16), _cbr(16, 32, 2),  # 16 x 96
            _cbr(32, 64), _cbr(64, 96, (2, 1)),  # 8 x 96
            _sep(96, 96), _cbr(96, 128, (2, 1)),  # 4 x 96
            nn.Conv2d(128, 128, (4, 1)), nn.ReLU(inplace=True),  # 1 x 96
        )
        self.seq = nn.Sequential(nn.Conv1d(128, 128, 5, padding=2), nn.ReLU(inplace=True),
                                 nn.Conv1d(128, n_symbols + 1, 1))

    def forward(self, x):
        return self.seq(self.body(x).squeeze(2)).transpose(1, 2)  # B, W, symbols


def crop(image: np.ndarray, quad: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """The line straightened to CROP_H x CROP_W grey, with a margin of a quarter of its height
    (jittered in training, as the finder's boxes are never exact)."""
    q = quad.astype(np.float32)
    h = max(1.0, float(np.linalg.norm(q[3] - q[0])))
    up = (q[0] - q[3]) / h  # unit vector from the baseline towards the top
    along = (q[1] - q[0]) / max(1.0, float(np.linalg.norm(q[1] - q[0])))
    m, side = 0.25 * h, 0.5 * h
    if rng is not None:
        q = q + rng.normal(0, 0.08 * h, q.shape).astype(np.float32)
        m *= rng.uniform(0.6, 1.6)
        side *= rng.uniform(0.3, 1.5)
    src = np.float32([q[0] + up * m - along * side, q[1] + up * m + along * side,
                      q[2] - up * m + along * side, q[3] - up * m - along * side])
    dst = np.float32([[0, 0], [CROP_W, 0], [CROP_W, CROP_H], [0, CROP_H]])
    warp = cv2.getPerspectiveTransform(src, dst)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.warpPerspective(grey, warp, (CROP_W, CROP_H), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def crops_to_batch(crops: list[np.ndarray]) -> torch.Tensor:
    x = torch.from_numpy(np.stack(crops)).float()[:, None]
    # Per-crop contrast: ink and label colours differ by brand and light.
    mean = x.mean((2, 3), keepdim=True)
    std = x.std((2, 3), keepdim=True).clamp_min(8.0)
    return (x - mean) / std


def box_from_mask(prob: np.ndarray, photo: int) -> np.ndarray | None:
    """The largest blob over 0.5, as four corners (TL, TR, BR, BL) in photo pixels."""
    mask = (prob > 0.5).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask)
    if n < 2:
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    ys, xs = np.nonzero(lab == k)
    pts = np.column_stack([xs, ys]).astype(np.float32) + 0.5
    (cx, cy), (w, h), ang = cv2.minAreaRect(pts)
    if h > w:  # keep the long side as the line's direction
        w, h, ang = h, w, ang + 90
    w, h = w + 1, h + 1  # pixel centres: half a cell more each side reaches the blob's edge
    a = np.deg2rad(ang)
    u = np.array([np.cos(a), np.sin(a)]) * w / 2
    v = np.array([-np.sin(a), np.cos(a)]) * h / 2
    if u[0] < 0:
        u = -u
    if v[1] < 0:
        v = -v
    c = np.array([cx, cy])
    q = np.stack([c - u - v, c + u - v, c + u + v, c - u + v])
    return q * (photo / MASK)


def train_finder(images, masks, a, rng) -> Finder:
    model = Finder()
    opt, sched = optimiser(model, a.lr, a.finder_epochs * (len(images) // a.batch_size))
    pos = torch.tensor([20.0])  # a line is ~2% of the map
    for epoch in range(a.finder_epochs):
        model.train()
        order = rng.permutation(len(images))
        bar = tqdm(range(0, len(order) - a.batch_size + 1, a.batch_size), desc=f"find {epoch}")
        for s in bar:
            idx = order[s:s + a.batch_size]
            logits = model(to_batch(images[idx]))
            y = torch.from_numpy(masks[idx]).float()
            p = logits.sigmoid()
            dice = 1 - (2 * (p * y).sum((2, 3)) + 1) / (p.sum((2, 3)) + y.sum((2, 3)) + 1)
            loss = F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos) + dice.mean()
            step(model, opt, sched, loss, bar, clip=None)
    return model


def train_reader(images, rows, boxes, ab: Alphabet, a, rng) -> LineReader:
    model = LineReader(len(ab.symbols))
    items = [(i, j) for i in range(len(images)) for j in range(len(LINES))]
    opt, sched = optimiser(model, a.lr, a.reader_epochs * (len(items) // a.batch_size))
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    texts = {j: list(rows[line]) for j, line in enumerate(LINES)}
    for epoch in range(a.reader_epochs):
        model.train()
        order = rng.permutation(len(items))
        bar = tqdm(range(0, len(order) - a.batch_size + 1, a.batch_size), desc=f"read {epoch}")
        for s in bar:
            batch = [items[k] for k in order[s:s + a.batch_size]]
            x = crops_to_batch([crop(images[i], boxes[i, j], rng) for i, j in batch])
            seqs = [ab.encode(texts[j][i]) for i, j in batch]
            logits = model(x)
            lp = logits.log_softmax(-1).permute(1, 0, 2)
            loss = ctc(lp, torch.tensor([c for q in seqs for c in q]),
                       torch.full((len(batch),), logits.shape[1], dtype=torch.long),
                       torch.tensor([len(q) for q in seqs]))
            step(model, opt, sched, loss, bar)
    return model


@torch.no_grad()
def find_all(finder: Finder, images: np.ndarray, batch: int = 64) -> list[list]:
    finder.eval()
    out = []
    for s in tqdm(range(0, len(images), batch), desc="find"):
        prob = finder(to_batch(images[s:s + batch])).sigmoid().numpy()
        out += [[box_from_mask(p[j], images.shape[1]) for j in range(len(LINES))] for p in prob]
    return out


@torch.no_grad()
def read_all(reader: LineReader, ab: Alphabet, images, boxes, batch: int = 128) -> list[tuple]:
    reader.eval()
    jobs = [(i, j) for i in range(len(images)) for j in range(len(LINES)) if boxes[i][j] is not None]
    said: dict = {}
    for s in tqdm(range(0, len(jobs), batch), desc="read"):
        part = jobs[s:s + batch]
        best = reader(crops_to_batch([crop(images[i], boxes[i][j]) for i, j in part])).argmax(-1)
        for (i, j), ids in zip(part, best.numpy(), strict=True):
            said[i, j] = ab.decode(ids)
    return [tuple(said.get((i, j), "") for j in range(len(LINES))) for i in range(len(images))]


def corner_error(boxes: list[list], quads: np.ndarray) -> dict:
    """Mean distance (photo px) of found corners to the true ones, and how often a line was
    found at all."""
    out = {}
    for j, line in enumerate(LINES):
        d = [float(np.linalg.norm(b[j] - q[j], axis=1).mean())
             for b, q in zip(boxes, quads, strict=True) if b[j] is not None]
        out[line] = {"found": round(len(d) / len(boxes), 4), "mean_corner_px": round(float(np.mean(d)), 2),
                     "median_corner_px": round(float(np.median(d)), 2)}
    return out


def train(a) -> None:
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    rows = pd.concat([print_rows(m) for m in a.manifest], ignore_index=True)
    ab = Alphabet("".join(sorted(set("".join(rows.name) + "".join(rows.made)))))
    images = decode(list(rows.file))
    quads = quads_of(rows)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if a.finder:  # a finder trained before, on these photos
        finder = Finder()
        finder.load_state_dict(load_file(a.finder))
    else:
        finder = train_finder(images, masks_of(quads, images.shape[1]), a, rng)
    save_file(finder.state_dict(), a.out / "finder.safetensors")
    t1 = time.time()
    found = find_all(finder, images)
    boxes = np.stack([[b if b is not None else q for b, q in zip(bs, qs, strict=True)]
                      for bs, qs in zip(found, quads, strict=True)]).astype(np.float32)
    reader = train_reader(images, rows, boxes, ab, a, rng)
    save_file(reader.state_dict(), a.out / "reader.safetensors")
    (a.out / "line_reader.json").write_text(json.dumps(
        {"symbols": ab.symbols, "lines": LINES, "manifests": [str(m) for m in a.manifest],
         "photos": len(rows), "finder_minutes": round((t1 - t0) / 60, 1),
         "reader_minutes": round((time.time() - t1) / 60, 1), "args": {
             k: str(v) for k, v in vars(a).items()}}, indent=1))


def read(a) -> None:
    meta = json.loads((a.reader / "line_reader.json").read_text())
    ab = Alphabet(meta["symbols"])
    finder = Finder()
    finder.load_state_dict(load_file(a.reader / "finder.safetensors"))
    reader = LineReader(len(ab.symbols))
    reader.load_state_dict(load_file(a.reader / "reader.safetensors"))
    rows = print_rows(a.manifest)
    images = decode(list(rows.file))
    t0 = time.time()
    boxes = find_all(finder, images)
    reads = read_all(reader, ab, images, boxes)
    seconds = time.time() - t0
    quads = quads_of(rows)
    true_boxes = [[q[0], q[1]] for q in quads]
    rows["read_name"] = [x[0] for x in reads]
    rows["read_made"] = [x[1] for x in reads]
    rows["ocr"] = rows.read_name + "\n" + rows.read_made
    a.out.parent.mkdir(parents=True, exist_ok=True)
    rows.drop(columns=["file", "name", "made"]).to_csv(a.out, index=False)
    print(json.dumps({
        "manifest": str(a.manifest), "photos": len(rows),
        "seconds_per_photo": round(seconds / max(1, len(rows)), 4),
        "finder": corner_error(boxes, quads),
        "read_through_found_boxes": exact_rates(rows, reads),
        "read_through_true_boxes": exact_rates(rows, read_all(reader, ab, images, true_boxes)),
    }, indent=1))


def main(argv=None) -> None:
    ap, t = cli(__doc__)
    t.add_argument("--finder-epochs", type=int, default=2)
    t.add_argument("--reader-epochs", type=int, default=4)
    t.add_argument("--finder", type=Path, default=None,
                   help="finder.safetensors of an earlier run on the same photos: skip its training")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    train(a) if a.cmd == "train" else read(a)


if __name__ == "__main__":
    main()
