"""A text reader trained on the generator's own labels: does reading catch the label-text fakes?

A probe, not shipped code. The Tesseract probe (`ocr_probe.py`) read only 43% of genuine "made in" lines
exactly, so a misprint looked like its own noise. This reader is trained for these labels: it
reads two lines from a whole tag or box photo, the brand name and the "made in" line, supervised
by the manifest's `printed` column (what the photo prints, typos included) with a CTC loss, so it
learns letters, not a list of lines.

How it finds a line without boxes: the network keeps a tall, narrow feature map (14 rows x 112
columns for a 224 px photo) and, for each line it reads, a softmax over the rows of every column
picks where that line runs; a tilted line just picks a neighbouring row further along. The picked
column features go through 1-D convolutions along the columns to per-column letter scores (CTC).
No ImageNet start: dark letters on a light label need no photo features, and a small network
from scratch trains faster on 2 CPU cores.

    python experiments/synthetic-baseline/reader_probe.py train \
        --manifest datasets/reader-train/manifest.csv --out runs/reader --epochs 4
    python experiments/synthetic-baseline/reader_probe.py read --reader runs/reader \
        --manifest datasets/synthetic-eval-seed7/manifest.csv --out runs/reader/reads-seed7.csv

`read` writes the rows of the manifest's tag and box photos with what was read (`read_name`,
`read_made`, and `ocr`, both lines, the column `ocr_probe.py --reads` takes) and prints, per
genuine and counterfeit photo, how often each line was read exactly.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from ocr_probe import edit_distance  # this folder
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

PRINT_VIEWS = ("label", "box")
LINES = ("name", "made")
MEAN = STD = 0.5


def print_rows(manifest: Path) -> pd.DataFrame:
    df = pd.read_csv(manifest)
    rows = df[df.view.isin(PRINT_VIEWS) & df.printed.notna()].copy()
    rows["file"] = [str(manifest.parent / p) for p in rows.path]
    # Spaces are left out: the gap between two printed words is a column or two, the easiest
    # thing for CTC to drop, and "MADE NI" is still a misprint of "MADE IN" without them.
    parts = rows.printed.str.replace(" ", "").str.split(";", n=1)
    rows["name"], rows["made"] = parts.str[0], parts.str[1]
    return rows.reset_index(drop=True)


def decode(files: list[str], size: int = 224) -> np.ndarray:
    def one(f):
        im = Image.open(f).convert("RGB")
        return np.asarray(im if im.size == (size, size) else im.resize((size, size)), np.uint8)
    with ThreadPoolExecutor(2) as pool:
        return np.stack(list(tqdm(pool.map(one, files), total=len(files), desc="decode")))


def _cbr(cin, cout, stride=1, groups=1, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _sep(cin, cout, stride=1):
    """Depthwise-separable conv: the wide 112-column maps make full 3x3 convs too dear on CPU."""
    return nn.Sequential(_cbr(cin, cin, stride, groups=cin), _cbr(cin, cout, k=1))


class Reader(nn.Module):
    def __init__(self, n_symbols: int):
        super().__init__()
        self.body = nn.Sequential(
            # Space-to-depth keeps every pixel (capitals are 5-8 px tall on a 224 px photo) at
            # a quarter of the positions a full-resolution first conv would cost.
            nn.PixelUnshuffle(2),  # 12 x 112 x 112
            _cbr(12, 32),
            _cbr(32, 48, (2, 1)),  # 56 x 112: rows shrink, columns stay fine for narrow letters
            _sep(48, 96, (2, 1)),  # 28 x 112
            _sep(96, 128),
            _sep(128, 128, (2, 1)),  # 14 x 112: 16 px rows
            _sep(128, 128),
        )
        self.where = nn.Conv2d(128, len(LINES), (5, 3), padding=(2, 1))
        # Printed lines run nearly level: neighbouring columns should pick nearby rows, so the
        # row scores are averaged over 9 columns (18 px) before the softmax.
        self.level = nn.AvgPool2d((1, 9), stride=1, padding=(0, 4), count_include_pad=False)
        self.line = nn.Parameter(torch.zeros(len(LINES), 128, 1))
        # Letters need a few columns of context either side, not a whole line: 1-D convs, which
        # cost a fraction of an LSTM on CPU.
        self.seq = nn.Sequential(nn.Conv1d(128, 128, 5, padding=2), nn.ReLU(inplace=True),
                                 nn.Conv1d(128, 128, 5, padding=2), nn.ReLU(inplace=True),
                                 nn.Conv1d(128, n_symbols + 1, 1))  # + CTC blank at 0

    def forward(self, x):
        f = self.body(x)  # B, C, H, W
        a = self.level(self.where(f)).softmax(dim=2)  # B, L, H, W: which row holds line l
        seq = torch.einsum("blhw,bchw->blcw", a, f) + self.line[None]
        b, nl, c, w = seq.shape
        return self.seq(seq.reshape(b * nl, c, w)).reshape(b, nl, -1, w).transpose(2, 3)

    def where_lines(self, x):
        """Row weights per line and column (B, L, H, W), for looking at where it reads."""
        return self.level(self.where(self.body(x))).softmax(dim=2)


class Alphabet:
    def __init__(self, symbols: str):
        self.symbols = symbols
        self.index = {s: i + 1 for i, s in enumerate(symbols)}

    def encode(self, text: str) -> list[int]:
        return [self.index[s] for s in text if s in self.index]

    def decode(self, ids) -> str:
        out, prev = [], 0
        for i in ids:
            if i != prev and i != 0:
                out.append(self.symbols[i - 1])
            prev = i
        return "".join(out)


def to_batch(arr: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255)
    return x.sub_(MEAN).div_(STD)


def shift(arr: np.ndarray, rng: np.random.Generator, pad: int = 12) -> np.ndarray:
    """Random translation by up to `pad` px: the labels sit near the centre in every photo."""
    out = np.empty_like(arr)
    for i, im in enumerate(arr):
        dy, dx = rng.integers(-pad, pad + 1, 2)
        out[i] = np.roll(im, (dy, dx), axis=(0, 1))
    return out


def targets(rows: pd.DataFrame, idx: np.ndarray, ab: Alphabet):
    seqs = [ab.encode(rows.at[i, line]) for i in idx for line in LINES]
    lengths = torch.tensor([len(s) for s in seqs])
    return torch.tensor([c for s in seqs for c in s]), lengths


@torch.no_grad()
def read_all(model: Reader, ab: Alphabet, images: np.ndarray, batch: int = 64) -> list[tuple]:
    model.eval()
    out = []
    for s in tqdm(range(0, len(images), batch), desc="read"):
        logits = model(to_batch(images[s:s + batch]))
        best = logits.argmax(-1).numpy()
        out += [tuple(ab.decode(best[i, j]) for j in range(len(LINES))) for i in range(len(best))]
    return out


def exact_rates(rows: pd.DataFrame, reads: list[tuple]) -> dict:
    """Per label: share of photos whose line was read exactly, and the character error rate."""
    r = rows.assign(read_name=[x[0] for x in reads], read_made=[x[1] for x in reads])
    res = {}
    for label, g in r.groupby("label"):
        res[label] = {"photos": len(g)}
        for line in LINES:
            said, truth = g[f"read_{line}"], g[line]
            res[label][f"{line}_exact"] = round(float((said == truth).mean()), 4)
            errors = sum(edit_distance(x, y) for x, y in zip(said, truth, strict=True))
            res[label][f"{line}_cer"] = round(errors / max(1, truth.str.len().sum()), 4)
    return res


def optimiser(model: nn.Module, lr: float, steps: int):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)


def step(model: nn.Module, opt, sched, loss: torch.Tensor, bar, clip: float | None = 5.0) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    sched.step()
    bar.set_postfix(loss=f"{loss.item():.3f}")


def cli(doc: str):
    """The `train` and `read` subcommands both probes share; each adds its own options."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--manifest", type=Path, nargs="+", required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--seed", type=int, default=0)
    r = sub.add_parser("read")
    r.add_argument("--reader", type=Path, required=True)
    r.add_argument("--manifest", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    return ap, t


def train(a) -> None:
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    rows = pd.concat([print_rows(m) for m in a.manifest], ignore_index=True)
    symbols = "".join(sorted(set("".join(rows.name) + "".join(rows.made))))
    ab = Alphabet(symbols)
    parcels = rows.parcel_id.unique()
    val_p = set(rng.choice(parcels, size=max(1, int(len(parcels) * a.val_fraction)), replace=False))
    is_val = rows.parcel_id.isin(val_p).to_numpy()
    images = decode(list(rows.file))
    tr, va = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    model = Reader(len(symbols))
    opt, sched = optimiser(model, a.lr, a.epochs * (len(tr) // a.batch_size))
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    a.out.mkdir(parents=True, exist_ok=True)
    history, t0 = [], time.time()
    for epoch in range(a.epochs):
        model.train()
        order = rng.permutation(tr)
        bar = tqdm(range(0, len(order) - a.batch_size + 1, a.batch_size), desc=f"epoch {epoch}")
        for s in bar:
            idx = order[s:s + a.batch_size]
            logits = model(to_batch(shift(images[idx], rng)))  # B, L, W, S
            b, nl, w, ns = logits.shape
            lp = logits.reshape(b * nl, w, ns).log_softmax(-1).permute(1, 0, 2)
            tgt, lens = targets(rows, idx, ab)
            loss = ctc(lp, tgt, torch.full((b * nl,), w, dtype=torch.long), lens)
            step(model, opt, sched, loss, bar)
        rates = exact_rates(rows.iloc[va].reset_index(drop=True), read_all(model, ab, images[va]))
        history.append({"epoch": epoch, "loss": round(loss.item(), 4), "val": rates,
                        "minutes": round((time.time() - t0) / 60, 1)})
        print(json.dumps(history[-1]), flush=True)
    save_file(model.state_dict(), a.out / "reader.safetensors")
    (a.out / "reader.json").write_text(json.dumps(
        {"symbols": symbols, "lines": LINES, "manifests": [str(m) for m in a.manifest],
         "train_photos": len(tr), "val_photos": len(va), "history": history}, indent=1))


def load_reader(folder: Path) -> tuple[Reader, Alphabet]:
    meta = json.loads((folder / "reader.json").read_text())
    model = Reader(len(meta["symbols"]))
    model.load_state_dict(load_file(folder / "reader.safetensors"))
    return model, Alphabet(meta["symbols"])


def read(a) -> None:
    model, ab = load_reader(a.reader)
    rows = print_rows(a.manifest)
    t0 = time.time()
    reads = read_all(model, ab, decode(list(rows.file)))
    seconds = time.time() - t0
    rows["read_name"] = [x[0] for x in reads]
    rows["read_made"] = [x[1] for x in reads]
    rows["ocr"] = rows.read_name + "\n" + rows.read_made
    a.out.parent.mkdir(parents=True, exist_ok=True)
    rows.drop(columns=["file", "name", "made"]).to_csv(a.out, index=False)
    print(json.dumps({"manifest": str(a.manifest), "photos": len(rows),
                      "seconds_per_photo": round(seconds / max(1, len(rows)), 4),
                      "exact": exact_rates(rows, reads)}, indent=1))


def main(argv=None) -> None:
    ap, t = cli(__doc__)
    t.add_argument("--epochs", type=int, default=4)
    t.add_argument("--val-fraction", type=float, default=0.05)
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    train(a) if a.cmd == "train" else read(a)


if __name__ == "__main__":
    main()
