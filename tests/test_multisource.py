"""Multi-source training data: filters, folds by parcel, masked heads, layer decay, warm start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from infer.model import create_inspector_net
from infer.package import save_package
from tests.conftest import SHARED_DATA
from train.data import assign_folds, assign_splits, load_sources, parse_source, thin_training
from train.engine import build_optimizer, masked_losses
from train.warm_start import init_from


def write_manifest(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        (folder / row["path"]).write_bytes(b"x")
    path = folder / "labels.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def table(n_parcels=60, photos=2, sources=("a", "b"), seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in sources:
        for p in range(n_parcels):
            label = float(rng.random() < 0.4)
            for j in range(photos):
                rows.append({"path": f"{s}/{p}/{j}.jpg", "parcel_id": f"{s}/{p}", "target": label,
                             "source": s, "source_name": s, "role": "any", "brand": "nike"})
    return pd.DataFrame(rows)


# --- source entries ---------------------------------------------------------------------------

def test_parse_source_filters_and_weight():
    src = parse_source("d/sneaker-brands/labels.csv?kind!=in-the-wild&brand=nike:2")
    assert src.manifest == Path("d/sneaker-brands/labels.csv")
    assert src.weight == 2.0
    assert src.filters == (("kind", "!=", "in-the-wild"), ("brand", "=", "nike"))
    assert src.name == "sneaker-brands" and src.role == "any"


def test_parse_source_rejects_malformed_filter():
    with pytest.raises(ValueError, match="kind"):
        parse_source("d/x.csv?kind")


def test_filters_keep_matching_rows_and_unknown_column_is_named(tmp_path):
    path = write_manifest(tmp_path / "brands", [
        {"path": "1.jpg", "brand": "nike", "kind": "thumbnail"},
        {"path": "2.jpg", "brand": "vans", "kind": "in-the-wild"},
        {"path": "3.jpg", "brand": "puma", "kind": "thumbnail"},
    ])
    kept = load_sources([parse_source(f"{path}?kind!=in-the-wild")])
    assert sorted(kept["brand"]) == ["nike", "puma"]
    only = load_sources([parse_source(f"{path}?kind=in-the-wild", role="test")])
    assert list(only["brand"]) == ["vans"] and set(only["role"]) == {"test"}
    with pytest.raises(ValueError, match="colour"):
        load_sources([parse_source(f"{path}?colour=red")])
    with pytest.raises(ValueError, match="no rows left"):
        load_sources([parse_source(f"{path}?kind=catalog")])



def test_brand_sources_pick_the_rows_that_train_the_brand_head():
    """final.yaml: the synthetic set's fictional brands stay out of the brand head; every row
    keeps its brand for measuring."""
    from train.data import trains_brand

    df = pd.DataFrame({
        "source_name": ["synthetic", "aj1-af1-photos", "sneaker-brands", "sneaker-brands"],
        "brand": ["kestra", "nike", "adidas", ""],
    })
    assert trains_brand(df, []).tolist() == [True, True, True, False]
    assert trains_brand(df, ["sneaker-brands"]).tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="sneaker-brandz"):
        trains_brand(df, ["sneaker-brandz"], strict=True)


def test_non_eval_sources_always_train_and_test_sources_always_test():
    df = table()
    df.loc[df["source"] == "b", "role"] = "test"
    df = pd.concat([df, table(sources=("c",)).assign(source="c", source_name="c")], ignore_index=True)
    fold = assign_folds(df[df["source"] == "a"], 3, seed=0)
    split = assign_splits(df, ["a"], 0.2, 0.0, 0, fold=(fold.reindex(df.index), 1))
    assert (split[df["source"] == "c"] == "train").all()
    assert (split[df["source"] == "b"] == "test").all()
    assert set(split[df["source"] == "a"]) == {"train", "val", "test"}
    with pytest.raises(ValueError, match="match no source"):
        assign_splits(df, ["nope"], 0.2, 0.2, 0)


def test_train_fraction_thins_training_listings_only_nested_and_stratified():
    """`data.train_fraction` (learning curves): validation and test stay as they were, whole
    listings are dropped, each source/label keeps its share, and 0.25 keeps a subset of 0.5."""
    df = table(n_parcels=200)
    fold = assign_folds(df, 5, seed=0)
    split = assign_splits(df, [], 0.15, 0.0, 0, fold=(fold, 2))
    half, quarter = (thin_training(df, split, f, seed=0) for f in (0.5, 0.25))
    assert thin_training(df, split, 1.0, seed=0).equals(split)
    for thinned in (half, quarter):
        assert (thinned[split != "train"] == split[split != "train"]).all()
        assert set(thinned[split == "train"]) == {"train", "unused"}
        assert df[thinned == "train"].groupby("parcel_id").size().eq(2).all()  # whole listings
    train_ids = {f: set(df.loc[s == "train", "parcel_id"]) for f, s in ((1.0, split), (0.5, half), (0.25, quarter))}
    assert train_ids[0.25] < train_ids[0.5] < train_ids[1.0]
    for (source, target), group in df[split == "train"].groupby(["source", "target"]):
        n = group["parcel_id"].nunique()
        kept = group.loc[quarter[group.index] == "train", "parcel_id"].nunique()
        assert abs(kept - round(n * 0.25)) <= 1, (source, target, kept, n)


def test_too_few_parcels_for_folds_is_an_error():
    with pytest.raises(ValueError, match="folds"):
        assign_folds(table(n_parcels=1, sources=("a",)), 5, seed=0)


# --- heads learn only from the rows that carry their label ---------------------------------------

def test_brand_only_rows_leave_the_counterfeit_loss_untouched():
    torch.manual_seed(0)
    cf = torch.randn(6, requires_grad=True)
    brand_logits = torch.randn(6, 3, requires_grad=True)
    target = torch.tensor([1.0, 0.0, 1.0, -1.0, -1.0, -1.0])  # last three: brand-only rows
    brand = torch.tensor([-1, -1, -1, 0, 2, 1])  # first three: no brand label
    cf_loss, brand_loss = masked_losses(cf, brand_logits, target, brand)
    alone, _ = masked_losses(cf[:3], brand_logits[:3], target[:3], brand[:3])
    assert torch.isclose(cf_loss, alone)
    cf_loss.backward()
    assert torch.all(cf.grad[3:] == 0) and torch.all(cf.grad[:3] != 0)
    cf.grad = None
    brand_loss.backward()
    assert cf.grad is None or torch.all(cf.grad == 0)
    assert torch.all(brand_logits.grad[:3] == 0) and torch.any(brand_logits.grad[3:] != 0)


def test_batch_without_any_counterfeit_label_gives_zero_loss_with_a_graph():
    cf = torch.randn(4, requires_grad=True)
    cf_loss, _ = masked_losses(cf, torch.randn(4, 2), torch.full((4,), -1.0), torch.tensor([0, 1, 0, 1]))
    assert cf_loss.item() == 0.0 and cf_loss.requires_grad


# --- optimisation and warm start -----------------------------------------------------------------

def test_layer_decay_gives_early_blocks_smaller_learning_rates():
    net = create_inspector_net(brands=["a", "b"], weights="none", image_size=64)
    opt = build_optimizer(net, 1e-3, 0.5, 1e-4, layer_decay=0.7)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    stem = lr_of[id(net.backbone.conv_stem.weight)]
    last = lr_of[id(net.backbone.blocks[-1][0].conv_pwl.weight)]
    head = lr_of[id(net.counterfeit_head.weight)]
    assert stem < last < head == pytest.approx(1e-3)
    assert last / stem == pytest.approx(0.7 ** -(len(net.backbone.blocks)))
    flat = build_optimizer(net, 1e-3, 0.5, 1e-4)
    assert {g["lr"] for g in flat.param_groups} == {5e-4, 1e-3}


def test_warm_start_copies_backbone_and_refreshes_a_different_brand_head(tmp_path):
    torch.manual_seed(0)
    source = create_inspector_net(brands=["x", "y"], weights="none", image_size=64)
    save_package(tmp_path / "pkg", source, {"pooling": "log_mean_exp"}, onnx=False)
    target = create_inspector_net(brands=["nike", "vans", "puma"], weights="none", image_size=64)
    report = init_from(target, str(tmp_path / "pkg"))
    assert torch.equal(target.backbone.conv_stem.weight, source.backbone.conv_stem.weight)
    assert torch.equal(target.counterfeit_head.weight, source.counterfeit_head.weight)
    assert "brand_head.weight" in report["fresh"]
    same = create_inspector_net(brands=["x", "y"], weights="none", image_size=64)
    assert "brand_head.weight" not in init_from(same, str(tmp_path / "pkg"))["fresh"]
    assert torch.equal(same.brand_head.weight, source.brand_head.weight)
    other = create_inspector_net(name="resnet18", brands=["x"], weights="none", image_size=64)
    with pytest.raises(ValueError, match="backbone"):
        init_from(other, str(tmp_path / "pkg"))


# --- the shared real data, when present ----------------------------------------------------------

REAL = {name: SHARED_DATA / name / "labels.csv" for name in ("aj1-af1-photos", "aj1-legit-check")}


@pytest.mark.skipif(not all(p.is_file() for p in REAL.values()), reason=f"no real data under {SHARED_DATA}")
@pytest.mark.parametrize("name,folds", [("aj1-af1-photos", 5), ("aj1-legit-check", 4)])
def test_real_folds_never_share_a_listing(name, folds):
    df = load_sources([parse_source(str(REAL[name]))])
    fold = assign_folds(df, folds, seed=0)
    for k in range(folds):
        split = assign_splits(df, [], 0.15, 0.0, 0, fold=(fold, k))
        sides = split.groupby(df["parcel_id"]).nunique()
        assert sides.max() == 1, f"fold {k}: a listing on two sides"
        assert df.loc[split == "test", "target"].nunique() == 2


@pytest.mark.skipif(not (SHARED_DATA / "sneaker-brands" / "labels.csv").is_file(), reason="no sneaker-brands")
def test_brand_only_manifest_trains_the_brand_head_only():
    df = load_sources([parse_source(str(SHARED_DATA / "sneaker-brands" / "labels.csv") + "?kind!=in-the-wild")])
    assert df["target"].isna().all() and (df["brand"] != "").all()
    assert "in-the-wild" not in set(df["kind"]) and len(df) > 7000


def test_a_package_using_a_retired_feature_is_refused_not_scored_wrongly(tmp_path):
    """Test-time flips, detail views, per-location pooling and the auxiliary heads were removed:
    a package saved with one of them would be scored differently by this code, so loading it
    names the feature instead."""
    import json

    from infer.package import load_package

    net = create_inspector_net(brands=["a", "b"], weights="none", image_size=64)
    save_package(tmp_path / "pkg", net, {}, onnx=False)
    assert load_package(tmp_path / "pkg")[0].spec.brands == ["a", "b"]
    meta = json.loads((tmp_path / "pkg" / "inspector.json").read_text())
    meta["net"]["tta"] = "hflip"
    (tmp_path / "pkg" / "inspector.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="tta='hflip'.*retired"):
        load_package(tmp_path / "pkg")


def test_create_inspector_net_takes_keywords_only():
    with pytest.raises(TypeError):
        create_inspector_net("tf_efficientnet_lite0", ["a"])  # noqa


def test_brand_balance_gives_every_brand_the_same_share_of_the_brand_loss():
    from train.data import brand_class_weights

    df = pd.DataFrame({"brand": ["nike"] * 8 + ["adidas"] * 2 + ["", "puma"]})
    draws = np.array([1.0] * 10 + [1.0, 0.0])  # puma never drawn
    w = brand_class_weights(df, ["adidas", "nike", "puma"], draws).tolist()
    # nike has 4x adidas's draws, so a quarter of its weight; both then carry half the loss.
    assert w[0] == pytest.approx(4 * w[1]) and w[2] == 1.0
    assert 8 * w[1] == pytest.approx(2 * w[0])
    # The weighted loss is what masked_losses computes.
    logits = torch.zeros(3, 3)
    _, loss = masked_losses(torch.zeros(3), logits, torch.full((3,), -1.0), torch.tensor([0, 1, 1]),
                            torch.tensor(w, dtype=torch.float32))
    assert loss.item() == pytest.approx(np.log(3))


def test_train_only_sources_never_reach_validation_or_test():
    df = table()
    df.loc[df["source"] == "b", "role"] = "train"
    split = assign_splits(df, [], 0.3, 0.3, seed=0)
    assert (split[df["source"] == "b"] == "train").all()
    assert set(split[df["source"] == "a"]) == {"train", "val", "test"}


def test_val_manifests_are_the_validation_split_in_every_fold():
    """`data.val_manifests`: two recipes can be chosen on the same validation listings."""
    df = table()
    df.loc[df["source"] == "b", "role"] = "val"
    assert set(assign_splits(df, [], 0.0, 0.0, seed=0)) == {"train", "val"}
    assert (assign_splits(df, [], 0.0, 0.0, seed=0)[df["source"] == "a"] == "train").all()
    eval_rows = df["role"] == "any"
    fold = assign_folds(df[eval_rows], 3, seed=0).reindex(df.index)
    for k in range(3):
        split = assign_splits(df, [], 0.0, 0.0, 0, fold=(fold, k))
        assert (split[df["source"] == "b"] == "val").all()
        assert set(split[df["source"] == "a"]) == {"train", "test"}
