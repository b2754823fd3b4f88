"""The synthetic parcel generator: deterministic, and its manifest says what its images show."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from train.synthetic import BRANDS, DEFECTS, VIEWS, generate_dataset, labels
from train.synthetic.generate import FORMAT_VERSION

SIZE = 64
PARCELS = 10


def _rows(manifest: Path) -> list[dict]:
    with manifest.open(newline="") as f:
        return list(csv.DictReader(f))


def _image_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("syn") / "a"
    return generate_dataset(out, n_parcels=PARCELS, seed=3, difficulty="mixed", image_size=SIZE,
                            workers=1, progress=False)


def test_outputs_exist(dataset: Path):
    root = dataset.parent
    assert dataset.name == "manifest.csv"
    assert (root / "preview.png").is_file()
    with Image.open(root / "preview.png") as im:
        assert im.width > 200 and im.height > 200
    cfg = json.loads((root / "generator.json").read_text())
    assert cfg["n_parcels"] == PARCELS and cfg["seed"] == 3 and cfg["image_size"] == SIZE
    assert cfg["difficulty"] == "mixed" and "format_version" in cfg


def _check_manifest(manifest: Path, n_parcels: int) -> None:
    rows = _rows(manifest)
    assert list(rows[0]) == ["path", "label", "brand", "parcel_id", "view", "defects",
                             "visible_defects", "strength", "printed", "printed_quads"]
    for r in rows:  # print is read only on the tag and the box sticker
        assert (r["printed"] != "") == (r["view"] in ("label", "box")), r["path"]
        assert (r["printed_quads"] != "") == (r["printed"] != ""), r["path"]
    parcels = defaultdict(list)
    for r in rows:
        parcels[r["parcel_id"]].append(r)
        assert r["label"] in ("genuine", "counterfeit")
        assert r["brand"] in BRANDS
        assert r["view"] in VIEWS
        with Image.open(manifest.parent / r["path"]) as im:
            assert im.size == (SIZE, SIZE) and im.format == "JPEG"
    assert len(parcels) == n_parcels
    for pid, photos in parcels.items():
        head = photos[0]
        assert 3 <= len(photos) <= 6, pid
        views = [r["view"] for r in photos]
        assert "side" in views and len(set(views)) == len(views), pid
        assert all(r["label"] == head["label"] and r["brand"] == head["brand"] and
                   r["defects"] == head["defects"] for r in photos)
        defects = [d for d in head["defects"].split(";") if d]
        assert set(defects) <= set(DEFECTS)
        if head["label"] == "genuine":
            assert not defects and head["strength"] == ""
            assert all(r["visible_defects"] == "" for r in photos)
            continue
        assert 1 <= len(defects) <= 3, pid
        assert 0.0 <= float(head["strength"]) <= 1.0
        seen = set()
        for r in photos:
            vis = {d for d in r["visible_defects"].split(";") if d}
            assert vis <= set(defects), pid
            seen |= vis
            if r["view"] in ("side", "logo", "stitching", "sole"):
                assert not any(d.startswith("label_") for d in vis), (pid, r["view"])
        assert seen == set(defects), f"{pid}: {set(defects) - seen} not shown in any photo"


def test_manifest_is_valid(dataset: Path):
    _check_manifest(dataset, PARCELS)
    labels = [r["label"] for r in _rows(dataset) if r["view"] == "side"]
    assert labels.count("counterfeit") == labels.count("genuine") == PARCELS // 2


def test_same_seed_same_bytes_any_workers(dataset: Path, tmp_path: Path):
    again = generate_dataset(tmp_path / "b", n_parcels=PARCELS, seed=3, difficulty="mixed",
                             image_size=SIZE, workers=2, progress=False)
    assert again.read_bytes() == dataset.read_bytes()
    assert _image_bytes(again.parent / "images") == _image_bytes(dataset.parent / "images")


def test_other_seed_differs(dataset: Path, tmp_path: Path):
    other = generate_dataset(tmp_path / "c", n_parcels=4, seed=4, image_size=SIZE, workers=1,
                             progress=False)
    first = _rows(other)[0]
    assert (other.parent / first["path"]).read_bytes() != next(
        iter(_image_bytes(dataset.parent / "images").values()))
    assert {r["parcel_id"] for r in _rows(other)}.isdisjoint(
        {r["parcel_id"] for r in _rows(dataset)})


def test_difficulty_float_and_share(tmp_path: Path):
    m = generate_dataset(tmp_path / "d", n_parcels=6, seed=0, difficulty=1.0, image_size=SIZE,
                         counterfeit_share=1.0, workers=1, progress=False)
    _check_manifest(m, 6)
    rows = _rows(m)
    assert {r["label"] for r in rows} == {"counterfeit"}
    assert {r["strength"] for r in rows} == {"1.000"}
    with pytest.raises(ValueError):
        generate_dataset(tmp_path / "e", n_parcels=2, difficulty="extreme", progress=False)


def test_older_stamps_match_by_what_they_record(tmp_path: Path):
    """A set stamped before `views` existed is reused; one an earlier generator made with
    twins (each fake paired with a genuine copy) is not what the config asks for."""
    from train.config import SyntheticConfig
    from train.synthetic_data import matches

    out = tmp_path / "old"
    out.mkdir()
    (out / "manifest.csv").write_text("path,label\n")
    stamp = {"format_version": FORMAT_VERSION, "n_parcels": 10, "seed": 3, "difficulty": "mixed",
             "image_size": 64, "counterfeit_share": 0.5}
    (out / "generator.json").write_text(json.dumps(stamp))
    cfg = SyntheticConfig(out_dir=str(out), parcels=10, seed=3, image_size=64)
    assert matches(out, cfg)
    assert not matches(out, SyntheticConfig(out_dir=str(out), parcels=12, seed=3, image_size=64))
    (out / "generator.json").write_text(json.dumps(stamp | {"twins": True}))
    assert not matches(out, cfg)


def test_views_photographs_every_parcel_in_exactly_those_views(tmp_path: Path):
    m = generate_dataset(tmp_path / "v", n_parcels=8, seed=2, image_size=SIZE, workers=1,
                         progress=False, views=("label", "box"))
    rows = _rows(m)
    by_parcel = defaultdict(list)
    for r in rows:
        by_parcel[r["parcel_id"]].append(r["view"])
    assert len(by_parcel) == 8 and all(v == ["label", "box"] for v in by_parcel.values())
    for r in rows:  # only flaws printed on that surface are visible in it
        assert set(filter(None, r["visible_defects"].split(";"))) <= set(r["defects"].split(";"))
        assert all(d.startswith("label_") for d in filter(None, r["visible_defects"].split(";")))
    assert json.loads((m.parent / "generator.json").read_text())["views"] == ["label", "box"]
    with pytest.raises(ValueError, match="views"):
        generate_dataset(tmp_path / "w", n_parcels=2, views=("tongue",), progress=False)


def test_rotated_points_follow_pils_rotation():
    im = Image.new("L", (40, 20), 0)
    im.putpixel((30, 5), 255)
    for angle in (10.0, -7.5, 90.0):
        turned = im.rotate(angle, resample=Image.NEAREST, expand=True)
        ys, xs = np.nonzero(np.asarray(turned))
        (x, y), = labels.rotated_points(np.array([[30.5, 5.5]]), im.size, angle, turned.size)
        assert abs(x - (xs.mean() + 0.5)) < 1.0 and abs(y - (ys.mean() + 0.5)) < 1.0, angle


def test_line_corners_enclose_that_lines_ink():
    """`labels.render`'s corners of a line hold all of its ink, tightly, even tilted."""
    brand = BRANDS["kestra"]
    for angle in (0.0, 6.0):
        made = labels.Line("made", "MADE IN VIETNAM", brand.font, (0.05, 0.6, 0.95, 0.75),
                           angle=angle)
        pr = labels.Print((made,), (255, 255, 255), (0, 0, 0))
        quads: dict = {}
        ink = np.asarray(labels.render(pr, 300, 200, brand, quads).convert("L")) < 128
        poly = Image.new("L", (300, 200), 0)
        ImageDraw.Draw(poly).polygon([tuple(p) for p in quads["made"]], fill=1)
        inside = cv2.dilate(np.asarray(poly, np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        assert ink.sum() > 100 and not (ink & ~inside).any(), angle
        assert ink[np.asarray(poly, bool)].mean() > 0.15, angle  # tight: not a wide margin


def test_printed_quads_sit_on_the_photo_in_reading_order(tmp_path: Path):
    m = generate_dataset(tmp_path / "q", n_parcels=6, seed=5, image_size=224, workers=1,
                         progress=False, views=["label", "box"])
    for r in _rows(m):
        name, made = (np.array(q.split(), float).reshape(4, 2) for q in r["printed_quads"].split(";"))
        for q in (name, made):
            assert (q > -10).all() and (q < 234).all(), r["path"]
            assert q[1, 0] - q[0, 0] > 3 * abs(q[3, 1] - q[0, 1]), r["path"]  # a line: long, low
        if r["view"] == "label":  # the brand name heads the tag, "made in" sits near its foot
            assert name[:, 1].mean() < made[:, 1].mean(), r["path"]
