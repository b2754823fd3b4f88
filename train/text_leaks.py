"""Training photos whose own text gives the answer away, found by reading them.

A scraped set once held "counterfeit" listings that were Real-vs-Fake comparison graphics with
the words printed on the picture: a model scores such a set by reading, not by judging the shoe.
Every real training photo is read once (infer.labels, cached by the file's SHA-256, so a photo is
read once whatever manifest or run it comes through). Words that give the answer away are large
print across the picture, so a photo is read in one pass at `READ_SIDE`, not label by label as
serving reads tags: a few tenths of a second a photo on 2 cores; a photo whose text names the answer (real,
fake, legit, replica, authentic, UA, 1:1, or the same in Chinese) is listed in
`<output_dir>/text_leaks.csv` and, with `data.drop_text_leaks` (the default), left out of every
split. The built-in synthetic parcels are not read: their print is the generator's own.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from infer.photos import PhotoError, load_photo

# Words that name the answer: English as listings print them, and Chinese (真 real, 假 fake,
# 正品 genuine goods, 仿 / 高仿 imitation, 复刻 replica, 原版 original, 莆田 the counterfeit hub).
LEAK = re.compile(
    r"(?<![A-Z0-9])(REAL|FAKE|LEGIT|REPLICA|AUTHENTIC|UA|1\s?:\s?1)(?![A-Z0-9])|(真|假|正品|仿|复刻|原版|莆田)")
READ_SIDE = 640  # longest side of the copy a photo is read on
CACHE_VERSION = f"large-print-{READ_SIDE}"  # a new way of reading starts a new cache


def leak_words(lines: list[str]) -> list[str]:
    """The answer-naming words in a photo's text lines, in order, each once."""
    found = []
    for line in lines:
        for match in LEAK.finditer(line.upper()):
            word = re.sub(r"\s", "", match.group(0))
            if word not in found:
                found.append(word)
    return found


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def photo_lines(path: str, cache: Path) -> list[str] | None:
    """The text lines of the photo at `path` (None if unreadable), read once per file content."""
    try:
        key = _digest(path)
    except OSError:
        return None
    entry = cache / CACHE_VERSION / key[:2] / f"{key}.json"
    if entry.is_file():
        return json.loads(entry.read_text())["lines"]
    from infer.labels import reader

    try:
        lines = reader.read_large_print(load_photo(path), READ_SIDE)
    except PhotoError:
        return None
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_suffix(".tmp")
    tmp.write_text(json.dumps({"lines": lines}))
    tmp.replace(entry)
    return lines


def find_text_leaks(table: pd.DataFrame, cache: Path) -> pd.DataFrame:
    """One row per real photo of `table` whose text names the answer: path, source, parcel,
    the words and the text they were read in."""
    rows = []
    real = table[~table["synthetic"]] if "synthetic" in table else table
    for path, source, parcel in tqdm(list(zip(real["path"], real["source_name"], real["parcel_id"], strict=True)),
                                     desc="read photos for text leaks", unit="photo", leave=False):
        lines = photo_lines(str(path), cache)
        words = leak_words(lines or [])
        if words:
            rows.append({"path": path, "source": source, "parcel_id": parcel, "words": " ".join(words),
                         "text": " | ".join(lines)})
    return pd.DataFrame(rows, columns=["path", "source", "parcel_id", "words", "text"])
