"""The training-data guard: a real photo whose own text names the answer is found by reading it,
listed, and kept out of every split; synthetic parcels are never read; reads are cached."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from tests.conftest import REPO
from train.config import load_config
from train.data import Source, load_sources
from train.prepare import guard_text_leaks
from train.text_leaks import leak_words


def test_leak_words_in_english_and_chinese():
    assert leak_words(["REAL VS FAKE", "legit check"]) == ["REAL", "FAKE", "LEGIT"]
    assert leak_words(["1:1 UA batch", "REALLY FAKED", "USA"]) == ["1:1", "UA"]
    assert leak_words(["真假对比", "高仿 复刻"]) == ["真", "假", "仿", "复刻"]
    assert leak_words(["MADE IN CHINA", "555088-101"]) == []


def _photo(path, text=None):
    img = Image.new("RGB", (640, 480), (180, 170, 160))
    draw = ImageDraw.Draw(img)
    draw.ellipse((120, 160, 520, 360), fill=(60, 60, 70))  # a dark shoe-ish blob
    if text:
        draw.text((200, 40), text, fill="black", font=ImageFont.load_default(size=64))
    img.save(path)


def test_a_photo_with_fake_drawn_on_it_is_listed_and_dropped(tmp_path, monkeypatch):
    folder = tmp_path / "scraped"
    (folder / "images").mkdir(parents=True)
    rows = []
    for i, text in enumerate([None, "FAKE", None, None]):
        _photo(folder / "images" / f"{i}.jpg", text)
        rows.append({"path": f"images/{i}.jpg", "label": "counterfeit" if i < 2 else "genuine",
                     "parcel_id": f"L{i // 2}", "brand": "nike"})
    pd.DataFrame(rows).to_csv(folder / "labels.csv", index=False)
    table = load_sources([Source(folder / "labels.csv")])
    images = np.zeros((len(table), 8, 8, 3), np.uint8)
    cfg = load_config(REPO / "configs" / "smoke.yaml", [f"data.text_cache={tmp_path / 'cache'}"])
    kept, kept_images, leaks = guard_text_leaks(cfg, table, images, tmp_path / "run")
    assert list(leaks["path"]) == [str(folder / "images" / "1.jpg")] and leaks["words"].iat[0] == "FAKE"
    assert (tmp_path / "run" / "text_leaks.csv").is_file()
    assert len(kept) == 3 and len(kept_images) == 3 and str(folder / "images" / "1.jpg") not in set(kept["path"])
    # Read once: the second pass comes from the cache, without the reader.
    from infer.labels import reader

    monkeypatch.setattr(reader, "read_large_print", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read again")))
    again = guard_text_leaks(cfg, table, images, None)
    assert len(again[0]) == 3 and list(again[2]["path"]) == list(leaks["path"])
    # The guard off: nothing read (not even from the cache), nothing dropped.
    off = guard_text_leaks(load_config(REPO / "configs" / "smoke.yaml", [f"data.text_cache={tmp_path / 'nothing'}",
                                                                        "data.drop_text_leaks=false"]),
                           table, images, None)
    assert len(off[0]) == 4 and off[2].empty and not (tmp_path / "nothing").exists()


def test_synthetic_parcels_are_never_read(monkeypatch, tmp_path):
    from infer.labels import reader

    monkeypatch.setattr(reader, "read_large_print", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read")))
    table = pd.DataFrame({"path": ["a.jpg"], "source_name": ["synthetic"], "parcel_id": ["p"], "synthetic": [True]})
    cfg = load_config(REPO / "configs" / "smoke.yaml", [f"data.text_cache={tmp_path}"])
    kept, _, leaks = guard_text_leaks(cfg, table, np.zeros((1, 4, 4, 3), np.uint8), tmp_path)
    assert len(kept) == 1 and leaks.empty
