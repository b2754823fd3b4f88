"""`infer.manifest.read_manifest`, and the parcel-grouped split and sources in `train.data`."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from infer.manifest import ManifestError, has_labels, read_manifest
from train.data import Source, load_sources, parse_source, split_by_parcel

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_photos(folder: Path, names: list[str]) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\xff\xd8 not decoded by read_manifest")


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def manifest_error(path: Path, **kwargs) -> str:
    with pytest.raises(ManifestError) as info:
        read_manifest(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    return message


# --- valid manifests ------------------------------------------------------------------------


def test_valid_manifest(tmp_path):
    root = tmp_path / "batch1"
    make_photos(root, ["img/a.jpg", "img/b.jpg", "img/c.jpg", "d.png"])
    path = write_csv(
        root / "labels.csv",
        "path,label,brand,parcel_id,view,defects,camera\n"
        "img/a.jpg,genuine,Nike,P1,side,,pixel7\n"
        "img/b.jpg, Counterfeit ,nike,P1,logo,stitching,pixel7\n"
        "img/c.jpg,,adidas,P2,,,iphone\n"
        " d.png ,GENUINE,,P3,,,\n",
    )
    df = read_manifest(path)
    assert len(df) == 4
    expected = [(root / p).resolve() for p in ("img/a.jpg", "img/b.jpg", "img/c.jpg", "d.png")]
    assert [Path(p) for p in df["path"]] == expected
    assert all(Path(p).is_absolute() for p in df["path"])
    # Unknown label: missing (None, or NaN in pandas' string dtype).
    assert df["label"].isna().tolist() == [False, False, True, False]
    assert df["label"].dropna().tolist() == ["genuine", "counterfeit", "genuine"]
    assert df["target"].iloc[0] == 0.0 and df["target"].iloc[1] == 1.0
    assert math.isnan(df["target"].iloc[2])
    assert df["brand"].tolist() == ["nike", "nike", "adidas", ""]
    assert df["parcel_id"].tolist() == ["P1", "P1", "P2", "P3"]
    assert df["view"].tolist() == ["side", "logo", "", ""]
    assert df["defects"].tolist() == ["", "stitching", "", ""]
    assert set(df["source"]) == {"batch1"}
    # Extra columns come along untouched.
    assert df["camera"].tolist() == ["pixel7", "pixel7", "iphone", ""]
    assert has_labels(df)


def test_paths_resolve_against_manifest_folder_not_cwd(tmp_path, monkeypatch):
    root = tmp_path / "data" / "set"
    make_photos(root, ["x.jpg"])
    write_csv(root / "m.csv", "path,label\nx.jpg,genuine\n")
    monkeypatch.chdir(tmp_path)  # x.jpg is not in the working directory
    assert not Path("x.jpg").exists()
    df = read_manifest(Path("data/set/m.csv"))
    assert df["path"].iloc[0] == str((root / "x.jpg").resolve())


def test_parent_relative_paths(tmp_path):
    make_photos(tmp_path / "photos", ["p.jpg"])
    path = write_csv(tmp_path / "manifests" / "m.csv", "path,label\n../photos/p.jpg,counterfeit\n")
    df = read_manifest(path)
    assert df["path"].iloc[0] == str((tmp_path / "photos" / "p.jpg").resolve())


def test_brand_only_manifest_has_no_labels(tmp_path):
    make_photos(tmp_path, ["a.jpg", "b.jpg"])
    path = write_csv(tmp_path / "m.csv", "path,brand\na.jpg,Puma\nb.jpg,nike\n")
    df = read_manifest(path)
    assert df["brand"].tolist() == ["puma", "nike"]
    assert df["label"].isna().all()
    assert df["target"].isna().all()
    assert not has_labels(df)


def test_missing_parcel_id_column_makes_each_photo_its_own_parcel(tmp_path):
    make_photos(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    path = write_csv(tmp_path / "m.csv", "path,label\na.jpg,genuine\nb.jpg,genuine\nc.jpg,\n")
    df = read_manifest(path)
    assert df["parcel_id"].nunique() == 3


def test_blank_parcel_ids_become_own_parcels(tmp_path):
    make_photos(tmp_path, ["a.jpg", "b.jpg", "c.jpg", "d.jpg"])
    path = write_csv(
        tmp_path / "m.csv",
        "path,label,parcel_id\na.jpg,genuine,P1\nb.jpg,genuine,\nc.jpg,genuine,P1\nd.jpg,genuine,\n",
    )
    ids = read_manifest(path)["parcel_id"].tolist()
    assert ids[0] == ids[2] == "P1"
    assert len({ids[1], ids[3], "P1"}) == 3


def test_header_whitespace_and_extra_columns_ignored(tmp_path):
    make_photos(tmp_path, ["a.jpg"])
    path = write_csv(tmp_path / "m.csv", " path , label ,notes\na.jpg,genuine,looked fine\n")
    df = read_manifest(path)
    assert df["label"].tolist() == ["genuine"]
    assert df["notes"].tolist() == ["looked fine"]


def test_check_files_false_skips_existence(tmp_path):
    path = write_csv(tmp_path / "m.csv", "path,label\nghost.jpg,genuine\n")
    df = read_manifest(path, check_files=False)
    assert df["path"].iloc[0] == str((tmp_path / "ghost.jpg").resolve())


def test_source_name_override(tmp_path):
    make_photos(tmp_path, ["a.jpg"])
    path = write_csv(tmp_path / "m.csv", "path,label\na.jpg,genuine\n")
    assert read_manifest(path, source="custom")["source"].tolist() == ["custom"]


# --- rejected manifests ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    assert "not found" in manifest_error(tmp_path / "nope.csv")


def test_directory_is_not_a_manifest(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    assert "not found" in manifest_error(tmp_path / "dir.csv")


def test_empty_file(tmp_path):
    path = write_csv(tmp_path / "m.csv", "")
    assert "empty" in manifest_error(path)


def test_header_only(tmp_path):
    path = write_csv(tmp_path / "m.csv", "path,label\n")
    assert "no rows" in manifest_error(path)


def test_no_path_column(tmp_path):
    path = write_csv(tmp_path / "m.csv", "file,label\na.jpg,genuine\n")
    message = manifest_error(path)
    assert "`path`" in message and "file" in message


def test_neither_label_nor_brand(tmp_path):
    make_photos(tmp_path, ["a.jpg"])
    path = write_csv(tmp_path / "m.csv", "path,parcel_id\na.jpg,P1\n")
    message = manifest_error(path)
    assert "label" in message and "brand" in message


def test_bad_labels_list_line_numbers(tmp_path):
    make_photos(tmp_path, [f"{i}.jpg" for i in range(5)])
    path = write_csv(
        tmp_path / "m.csv",
        "path,label\n0.jpg,genuine\n1.jpg,fake\n2.jpg,counterfeit\n3.jpg,real\n4.jpg,\n",
    )
    message = manifest_error(path)
    # Data rows start on CSV line 2: "fake" is on line 3, "real" on line 5.
    assert "lines 3, 5" in message
    assert "'fake'" in message and "'real'" in message
    assert "genuine, counterfeit or empty" in message


def test_single_bad_label_says_line(tmp_path):
    make_photos(tmp_path, ["a.jpg", "b.jpg"])
    path = write_csv(tmp_path / "m.csv", "path,label\na.jpg,genuine\nb.jpg,1\n")
    assert "line 3" in manifest_error(path)


def test_many_bad_labels_are_summarised(tmp_path):
    make_photos(tmp_path, [f"{i}.jpg" for i in range(8)])
    rows = "".join(f"{i}.jpg,maybe\n" for i in range(8))
    message = manifest_error(write_csv(tmp_path / "m.csv", "path,label\n" + rows))
    assert "lines 2, 3, 4, 5, 6 (and 3 more)" in message


def test_empty_path(tmp_path):
    make_photos(tmp_path, ["a.jpg"])
    path = write_csv(tmp_path / "m.csv", "path,label\na.jpg,genuine\n  ,genuine\n")
    message = manifest_error(path)
    assert "empty `path`" in message and "line 3" in message


def test_missing_photo_files_counted_with_example(tmp_path):
    make_photos(tmp_path, ["here.jpg"])
    path = write_csv(
        tmp_path / "m.csv",
        "path,label\nhere.jpg,genuine\ngone1.jpg,genuine\nsub/gone2.jpg,counterfeit\n",
    )
    message = manifest_error(path)
    assert "2 photo file(s) not found" in message
    assert "'gone1.jpg'" in message
    assert "lines 3, 4" in message


def test_all_problems_reported_at_once(tmp_path):
    path = write_csv(tmp_path / "m.csv", "path,label\nghost.jpg,bogus\n,genuine\n")
    message = manifest_error(path)
    assert "empty `path`" in message
    assert "'bogus'" in message
    assert "not found" in message


# --- sources ---------------------------------------------------------------------------------


def test_parse_source_with_weight():
    src = parse_source("a/b.csv:2.5")
    assert src.manifest == Path("a/b.csv")
    assert src.weight == 2.5


def test_parse_source_without_weight():
    src = parse_source("a/b.csv")
    assert src.manifest == Path("a/b.csv")
    assert src.weight == 1.0


def test_parse_source_integer_weight():
    assert parse_source("data/x.csv:3").weight == 3.0


def test_load_sources_qualifies_parcels_by_source(tmp_path):
    for name in ("one", "two"):
        make_photos(tmp_path / name, ["a.jpg"])
        write_csv(tmp_path / name / "m.csv", "path,label,parcel_id\na.jpg,genuine,P1\n")
    df = load_sources([Source(tmp_path / "one" / "m.csv"), Source(tmp_path / "two" / "m.csv", 2.0)])
    assert len(df) == 2
    # Same raw id "P1" in both manifests: two different parcels after loading.
    assert df["parcel_id"].nunique() == 2
    assert df["source_weight"].tolist() == [1.0, 2.0]


def test_load_sources_needs_a_source():
    with pytest.raises(ValueError, match="no data sources"):
        load_sources([])


# --- parcel split ----------------------------------------------------------------------------


def synthetic_table(n_parcels: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_parcels):
        target = float(p % 2)  # half counterfeit
        for k in range(int(rng.integers(1, 7))):
            rows.append(
                {
                    "parcel_id": f"P{p:03d}",
                    "source": "s",
                    "target": target,
                    "path": f"/x/{p}-{k}.jpg",
                }
            )
    return pd.DataFrame(rows)


def test_split_no_parcel_in_two_splits():
    df = synthetic_table()
    df["split"] = split_by_parcel(df, 0.15, 0.15, seed=0)
    assert df["split"].notna().all()
    assert set(df["split"]) == {"train", "val", "test"}
    splits_per_parcel = df.groupby("parcel_id")["split"].nunique()
    assert (splits_per_parcel == 1).all()


def test_split_fractions_and_stratified():
    df = synthetic_table()
    df["split"] = split_by_parcel(df, 0.15, 0.25, seed=3)
    parcels = df.groupby("parcel_id").agg(split=("split", "first"), target=("target", "max"))
    share = parcels["split"].value_counts(normalize=True)
    assert abs(share["val"] - 0.15) < 0.03
    assert abs(share["test"] - 0.25) < 0.03
    assert abs(share["train"] - 0.60) < 0.03
    for name in ("train", "val", "test"):
        labels = parcels.loc[parcels["split"] == name, "target"]
        assert set(labels) == {0.0, 1.0}
        assert abs(labels.mean() - 0.5) < 0.05  # 50/50 overall, stratified per split


def test_split_deterministic_per_seed():
    df = synthetic_table()
    a = split_by_parcel(df, 0.15, 0.15, seed=7)
    b = split_by_parcel(df, 0.15, 0.15, seed=7)
    c = split_by_parcel(df, 0.15, 0.15, seed=8)
    assert a.equals(b)
    assert not a.equals(c)


def test_split_independent_of_row_order():
    df = synthetic_table()
    a = split_by_parcel(df, 0.2, 0.2, seed=1)
    shuffled = df.sample(frac=1.0, random_state=0)
    b = split_by_parcel(shuffled, 0.2, 0.2, seed=1)
    assert a.equals(b.loc[a.index])


def test_split_unlabelled_parcels_get_a_split():
    df = synthetic_table(60)
    df.loc[df["parcel_id"] < "P020", "target"] = np.nan
    split = split_by_parcel(df, 0.2, 0.2, seed=0)
    assert split.notna().all()
    assert set(split[df["target"].isna()]) == {"train", "val", "test"}


@pytest.mark.parametrize("val, test", [(0.5, 0.5), (-0.1, 0.1), (1.0, 0.0), (0.2, 0.9)])
def test_split_rejects_bad_fractions(val, test):
    with pytest.raises(ValueError, match="fraction"):
        split_by_parcel(synthetic_table(10), val, test, seed=0)


# --- the shared real data, when present -----------------------------------------------------


def shared_manifests() -> list[Path]:
    return sorted(SHARED_DATA.glob("*/labels.csv")) if SHARED_DATA.is_dir() else []


@pytest.mark.skipif(not shared_manifests(), reason=f"no manifests under {SHARED_DATA}")
@pytest.mark.parametrize("manifest", shared_manifests(), ids=lambda p: p.parent.name)
def test_shared_data_manifests_load(manifest):
    with manifest.open(newline="") as fh:
        n_rows = sum(1 for _ in csv.DictReader(fh))
    df = read_manifest(manifest)
    assert len(df) == n_rows > 0
    assert all(Path(p).is_file() for p in df["path"][:20])
    assert set(df["label"].dropna()) <= {"genuine", "counterfeit"}
    assert df["parcel_id"].str.len().gt(0).all()


def test_split_and_folds_keep_a_group_together(tmp_path):
    """Twin parcels (or one seller's listings) share `group`: never on both sides of a split."""
    from train.data import assign_folds, load_sources, parse_source

    rows = ["path,label,brand,parcel_id,group"]
    for g in range(30):
        for k, label in enumerate(("counterfeit", "genuine")):
            group = f"G{g}" if g % 3 else ""
            rows.append(f"p{g}-{k}.jpg,{label},kestra,P{g}-{k},{group}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    df = load_sources([parse_source(str(tmp_path / "m.csv"))])
    split = split_by_parcel(df, 0.2, 0.2, seed=1)
    folds = assign_folds(df, 4, seed=1)
    grouped = df["group"] != ""
    for assignment in (split, folds):
        per_group = assignment[grouped].groupby(df.loc[grouped, "group"]).nunique()
        assert (per_group == 1).all()
        # Ungrouped parcels are still dealt one by one.
        assert assignment[~grouped].groupby(df.loc[~grouped, "parcel_id"]).nunique().max() == 1
    assert set(split) == {"train", "val", "test"} and set(folds) == {0, 1, 2, 3}
