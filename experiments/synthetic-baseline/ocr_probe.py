"""Would a text reader (Tesseract OCR) catch the label-text fakes the network misses?

A probe, not shipped code. It reads every tag and box photo of a synthetic manifest with the
Debian `tesseract` binary, turns what it reads into three text features per parcel, and stacks
them with a model's parcel logit in a logistic regression, cross-fitted over two halves of the
parcels (each half scored by a fit on the other), so no parcel is scored by a fit that saw it.

What the reader is allowed to know comes from the *genuine* parcels of a training manifest
(`--known`, its `printed` column): which "made in" lines each brand prints and the brand names.
It is never told the generator's typo or country lists.

    python experiments/synthetic-baseline/ocr_probe.py \
        --manifest datasets/synthetic-eval-seed7/manifest.csv \
        --known datasets/synthetic/manifest.csv \
        --model runs/3.7x-budget/model --out runs/ocr-probe-seed7

Needs `apt-get install tesseract-ocr`, or `--reads FILE`: what another reader read, as
`reader_probe.py read` writes it (its lines carry no spaces, so the genuine lines are compared
without theirs). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from by_defect_group import TEXT as TEXT_DEFECTS  # this folder: the same "text-only" fakes
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

PRINT_VIEWS = ("label", "box")
UPSCALE = 3  # Tesseract wants ~20 px capitals; the tags print them at 6-8 px


def read_text(path: Path) -> str:
    with tempfile.NamedTemporaryFile(suffix=".png") as tmp:
        im = Image.open(path).convert("L")
        im.resize((im.width * UPSCALE, im.height * UPSCALE), Image.BICUBIC).save(tmp.name)
        out = subprocess.run(["tesseract", tmp.name, "-", "--psm", "6"], capture_output=True,
                             text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"},
                             check=True)
    return out.stdout


def ocr_manifest(manifest: Path, cache: Path, workers: int) -> pd.DataFrame:
    if cache.exists():
        return pd.read_csv(cache, keep_default_na=False)
    df = pd.read_csv(manifest)
    rows = df[df.view.isin(PRINT_VIEWS)].copy()
    paths = [manifest.parent / p for p in rows.path]
    with ThreadPoolExecutor(workers) as pool:
        rows["ocr"] = list(tqdm(pool.map(read_text, paths), total=len(paths), desc="ocr"))
    rows.to_csv(cache, index=False)
    return rows


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def lines(text: str) -> list[str]:
    out = []
    for raw in text.splitlines():
        s = re.sub(r"[^A-Z ]", "", raw.upper())
        s = re.sub(r" +", " ", s).strip()
        if len(s) >= 3:
            out.append(s)
    return out


def nearest(candidates: list[str], targets: set[str]) -> tuple[str | None, int]:
    """The OCR line closest to any target, and its distance to that target."""
    best, dist = None, 10**6
    for line in candidates:
        for t in targets:
            d = edit_distance(line, t)
            if d < dist:
                best, dist = line, d
    return best, dist


def known_prints(manifest: Path) -> tuple[dict[str, set[str]], set[str]]:
    df = pd.read_csv(manifest)
    g = df[(df.label == "genuine") & df.printed.notna()]
    made: dict[str, set[str]] = {}
    names: set[str] = set()
    for brand, printed in zip(g.brand, g.printed, strict=True):
        name, line = printed.split(";")
        made.setdefault(brand, set()).add(line)
        names.add(name)
    return made, names


def photo_features(text: str, brand: str, made: dict[str, set[str]], names: set[str]) -> dict:
    """Distances of what was read to what a genuine parcel of `brand` prints.

    `made_any`: edit distance of the "made in" line to the nearest genuine line of any brand (a
    misprint, or a misread); `made_other`: it is read closer to another brand's genuine line than
    to any of this brand's (a country outside the brand's factories); `made_own`: its distance to
    the nearest of the brand's own lines; `name`: the same for the brand name. A line more than 7
    edits from every genuine "made in" line, or a word more than 3 from every brand name, counts
    as not read (NaN)."""
    ls = lines(text)
    every = set().union(*made.values())
    line, d_any = nearest(ls, every)
    f = {"made_any": np.nan, "made_own": np.nan, "made_other": np.nan, "name": np.nan}
    if line is not None and d_any <= 7:
        d_own = min(edit_distance(line, t) for t in made.get(brand, every))
        f["made_any"], f["made_own"] = float(d_any), float(d_own)
        f["made_other"] = float(d_any < d_own)
    own_name = brand.upper()
    word, d_name = nearest([w for s in ls for w in s.split()], {own_name} | names)
    if word is not None and d_name <= 3:
        f["name"] = float(edit_distance(word, own_name))
    return f


def parcel_table(ocr: pd.DataFrame, verdicts: pd.DataFrame, made, names) -> pd.DataFrame:
    feats = []
    for _, r in ocr.iterrows():
        brand = verdicts.loc[r.parcel_id, "brand"]
        feats.append({"parcel_id": r.parcel_id, **photo_features(r.ocr, brand, made, names)})
    f = pd.DataFrame(feats).groupby("parcel_id").max()
    t = verdicts.join(f, how="left")
    t["read_any"] = t[["made_own", "name"]].notna().any(axis=1).astype(float)
    return t


def design(t: pd.DataFrame, with_text: bool) -> np.ndarray:
    cols = [t.logit.to_numpy()]
    if with_text:
        for c in ("made_any", "made_own", "made_other", "name"):
            v = t[c].to_numpy(float)
            cols += [np.nan_to_num(np.minimum(v, 4.0)), np.isnan(v).astype(float)]
    return np.column_stack(cols)


def cross_fit(t: pd.DataFrame, with_text: bool, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(t)) % 2
    x, y = design(t, with_text), t.target.to_numpy()
    out = np.zeros(len(t))
    for k in (0, 1):
        fit = LogisticRegression(C=1.0, max_iter=1000).fit(x[half != k], y[half != k])
        out[half == k] = fit.decision_function(x[half == k])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", type=Path, required=True)
    ap.add_argument("--known", type=Path, required=True, help="training manifest with `printed`")
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", type=Path, required=True, help="folder for the OCR and verdict caches")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reads", type=Path, default=None,
                    help="what another reader read (reader_probe.py read's CSV) instead of Tesseract")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)

    verdict_file = a.out / "verdicts.jsonl"
    if not verdict_file.exists():
        subprocess.run([sys.executable, "-m", "infer", "--model", a.model, "--manifest",
                        str(a.manifest), "--out", str(verdict_file)], check=True)
    v = pd.read_json(verdict_file, lines=True).set_index("parcel_id")
    p = v.counterfeit_probability.clip(1e-6, 1 - 1e-6)
    m = pd.read_csv(a.manifest)
    parcels = m.groupby("parcel_id").agg(label=("label", "first"), defects=("defects", "first"))
    t = pd.DataFrame({"logit": np.log(p / (1 - p)), "brand": v.brand}).join(parcels, how="inner")
    t["target"] = (t.label == "counterfeit").astype(int)
    t["text_only"] = t.defects.fillna("").map(lambda d: bool(d) and set(d.split(";")) <= TEXT_DEFECTS)

    made, names = known_prints(a.known)
    if a.reads:  # reader_probe.py reads without spaces
        made = {b: {x.replace(" ", "") for x in lines} for b, lines in made.items()}
        names = {x.replace(" ", "") for x in names}
    ocr = (pd.read_csv(a.reads, keep_default_na=False) if a.reads
           else ocr_manifest(a.manifest, a.out / "ocr.csv", a.workers))
    t = parcel_table(ocr, t, made, names)

    def auroc(score, mask=None):
        sel = (t.target == 0) | (mask if mask is not None else True)
        return round(float(roc_auc_score(t.target[sel], score[sel.to_numpy()])), 4)

    base, stacked = cross_fit(t, False), cross_fit(t, True)
    text_only = t.text_only & (t.target == 1)
    visual = (~t.text_only) & (t.target == 1)
    print(json.dumps({
        "manifest": str(a.manifest), "model": a.model, "reader": str(a.reads or "tesseract"),
        "parcels": len(t),
        "print_photos_read": int(len(ocr)),
        "parcels_with_a_line_read": round(float(t.read_any.mean()), 3),
        "network_alone": {"all": auroc(base), "text_only": auroc(base, text_only),
                          "visual": auroc(base, visual)},
        "network_plus_reader": {"all": auroc(stacked), "text_only": auroc(stacked, text_only),
                                "visual": auroc(stacked, visual)},
        "text_only_fakes": int(text_only.sum()),
    }, indent=1))


if __name__ == "__main__":
    main()
