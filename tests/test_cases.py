"""Linking parcels into sellers' cases (infer/cases) and the simulated day it is measured on."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("splink")

from infer.cases.cli import main as cases_main  # noqa: E402
from infer.cases.features import linking_frame, photo_signatures  # noqa: E402
from infer.cases.link import link_parcels  # noqa: E402
from infer.cases.pooling import case_logits, pool_case_logits, probability  # noqa: E402
from infer.cases.records import (  # noqa: E402
    clean_records,
    normalise_addresses,
    normalise_names,
    phone_digits,
)
from infer.cases.settings import comparisons  # noqa: E402
from infer.cases.table import cases_table  # noqa: E402
from train.traffic import main as traffic_main  # noqa: E402
from train.traffic import simulate_day  # noqa: E402

TRUTH = ["label", "seller_id", "brand", "model"]


@pytest.fixture(scope="module")
def small_day():
    # One counterfeit seller of 90 parcels hidden among ~300 genuine senders. The seller must be
    # big enough that its pairs, not repeat genuine senders', shape what EM learns a match is.
    day = simulate_day(600, seed=0, sellers=1, counterfeit_share=0.15)
    result = link_parcels(day.drop(columns=TRUTH), threshold=0.9)
    return day, result


def test_the_planted_seller_is_one_case_and_decoys_stay_out(small_day):
    day, result = small_day
    joined = result.cases.merge(day[["parcel_id", "seller_id", "label"]], on="parcel_id")
    seller = joined[joined["label"] == "counterfeit"]
    assert seller["seller_id"].nunique() == 1 and len(seller) == 90
    biggest = seller["case_id"].value_counts()
    case = biggest.index[0]
    assert biggest.iloc[0] >= 0.9 * len(seller), biggest.head()
    members = joined[joined["case_id"] == case]
    decoys = members[members["label"] == "genuine"]
    assert len(decoys) <= 1, decoys
    # Genuine senders are not glued together either: most genuine cases hold one sender.
    genuine = joined[joined["label"] == "genuine"]
    senders_per_case = genuine.groupby("case_id")["seller_id"].nunique()
    assert (senders_per_case == 1).mean() >= 0.97


def test_a_day_larger_than_the_training_sample_is_trained_on_a_sample_and_scored_whole(
        small_day, monkeypatch):
    from infer.cases import link

    day, _ = small_day
    engines, real = [], link.database_api
    monkeypatch.setattr(link, "TRAIN_PARCELS", 400)
    monkeypatch.setattr(link, "database_api", lambda backend: engines.append(backend) or
                        real(backend))
    result = link.link_parcels(day.drop(columns=TRUTH), threshold=0.9)
    assert engines == ["duckdb", "duckdb"]  # one engine trains on the sample, one scores all
    assert sorted(result.cases["parcel_id"]) == sorted(day["parcel_id"])
    joined = result.cases.merge(day[["parcel_id", "label"]], on="parcel_id")
    seller = joined[joined["label"] == "counterfeit"]
    assert seller["case_id"].value_counts().iloc[0] >= 0.9 * len(seller)


def test_each_link_is_explained_by_its_comparisons(small_day):
    _, result = small_day
    pairs = result.pairs
    weights = [c for c in pairs.columns if c.startswith("mw_")]
    assert {"mw_seller_key", "mw_phone", "mw_name_norm", "mw_dispatch_time"} <= set(weights)
    strong = pairs[pairs["match_probability"] >= 0.9]
    assert len(strong) > 0
    # Splink's match weight is the prior's weight plus the comparisons' weights.
    spread = strong["match_weight"] - strong[weights].sum(axis=1)
    assert np.allclose(spread, spread.iloc[0], atol=1e-6)
    table = cases_table(result)
    assert table["size"].iloc[0] == result.cases["case_size"].max()
    assert table["linked_by"].iloc[0]


def test_malformed_records_are_reported_per_parcel_and_nulled():
    records = pd.DataFrame({
        "parcel_id": ["a", "b", "c", "d", "", "a"],
        "sender_name": ["Wang Wei", "Wang  Wei.", "Li Na", None, "x", "dup"],
        "sender_phone": ["+86 138 1234 5678", "13812345678", "", "139", "1", "2"],
        "dispatch_time": ["2024-05-14T08:00", "14 May 2024 09:00", "2024-13-45", "", "", ""],
        "weight_g": ["950", "-3", "1000", "heavy", "", ""],
        "declared_value": ["12.5", "9", "n/a", "-1", "", ""],
    })
    cleaned, problems = clean_records(records)
    found = {(p.parcel_id, p.column) for p in problems}
    assert {("c", "dispatch_time"), ("b", "weight_g"), ("d", "weight_g"), ("c", "declared_value"),
            ("d", "declared_value"), ("row 6", "parcel_id"), ("a", "parcel_id")} <= found
    assert list(cleaned["parcel_id"]) == ["a", "b", "c", "d"]
    by_id = cleaned.set_index("parcel_id")
    assert pd.isna(by_id.loc["c", "dispatch_time"]) and pd.isna(by_id.loc["b", "weight_g"])
    assert by_id.loc["b", "dispatch_time"] == pd.Timestamp("2024-05-14 09:00")
    result = link_parcels(records, threshold=0.9)
    assert set(result.cases["parcel_id"]) == {"a", "b", "c", "d"}
    assert {(p.parcel_id, p.column) for p in result.problems} == found


def test_normalised_phones_and_names_match_across_formats():
    assert phone_digits("+86 138-1234-5678") == phone_digits("0086 13812345678") == "13812345678"
    frame = linking_frame(clean_records(pd.DataFrame({
        "parcel_id": ["a", "b"], "sender_name": ["WANG, Wei!", "wang wei"],
        "sender_address": ["No. 5 Jiangbin Road, Yiwu", "No 5 Jiangbin Rd Yiwu"],
        "seller_account": ["Store1", "store1"], "platform": ["Temu", "TEMU"]}))[0])
    assert frame.loc[0, "name_norm"] == "wang wei"
    assert frame.loc[0, "address_norm"] == frame.loc[1, "address_norm"] == "no 5 jiangbin rd yiwu"
    assert frame.loc[0, "seller_key"] == frame.loc[1, "seller_key"] == "temu:store1"
    # Accents go, scripts without Latin letters leave nothing, and an abbreviation is a whole
    # word: "roadside" keeps its "road".
    names = normalise_names(pd.Series(["Wáng  Wěi", "中国", " - ", None, float("nan"), 42]))
    assert names.tolist() == ["wang wei", None, None, None, None, "42"]
    assert normalise_addresses(pd.Series(["Roadside ROAD, Room 5"])).tolist() == [
        "roadside rd rm 5"]


def test_photo_embeddings_become_signatures_that_keep_cosine_order():
    rng = np.random.default_rng(0)
    base = rng.standard_normal(128)
    near = base + 0.1 * rng.standard_normal(128)
    far = rng.standard_normal(128)
    bits = photo_signatures(pd.Series([base, near, far, None], dtype=object))
    differ = [sum(a != b for a, b in zip(bits[0], other, strict=True)) for other in bits[1:3]]
    assert bits[3] is None and differ[0] < 8 < differ[1]
    records = pd.DataFrame({"parcel_id": ["a", "b", "c"],
                            "photo_embedding": [base.tolist(), str(near.tolist()), "oops"]})
    cleaned, problems = clean_records(records)
    assert [(p.parcel_id, p.column) for p in problems] == [("c", "photo_embedding")]
    frame = linking_frame(cleaned)
    names = [c.create_output_column_name() for c in comparisons(set(frame.columns))]
    assert "photo_bits" in frame and "photo_bits" in names


def test_case_pooling_is_the_mean_of_member_logits():
    assert pool_case_logits([2.0, -1.0, 5.0]) == pytest.approx(2.0)
    # The geometric mean of the odds: odds 9 and 1/9 pool to even.
    assert probability(pool_case_logits([math.log(9), -math.log(9)])) == pytest.approx(0.5)
    # Unlike the mean of probabilities, a very sure member keeps its weight.
    assert pool_case_logits([8.0, -2.0]) > 0 > math.log(0.5 * (probability(-2.0) + 0.0))
    assert math.isnan(pool_case_logits([float("nan")]))
    cases = pd.DataFrame({"parcel_id": ["a", "b", "c", "d"], "case_id": ["a", "a", "c", "c"]})
    pooled = case_logits(cases, pd.Series({"a": 4.0, "b": 0.0, "c": -2.0}))
    assert pooled.to_dict() == {"a": 2.0, "b": 2.0, "c": -2.0, "d": -2.0}


def test_the_cli_writes_cases_csv(tmp_path, capsys):
    day = tmp_path / "day.csv"
    assert traffic_main(["--parcels", "400", "--seed", "1", "--sellers", "1", "--photos", "none",
                         "--counterfeit-share", "0.2", "--out", str(day)]) == 0
    out = tmp_path / "out" / "cases.csv"
    table = tmp_path / "out" / "table.csv"
    assert cases_main(["build", "--records", str(day), "--out", str(out),
                       "--table-out", str(table)]) == 0
    cases = pd.read_csv(out)
    assert list(cases.columns) == ["parcel_id", "case_id", "case_size"]
    assert len(cases) == 400 and cases["case_size"].max() >= 60
    assert pd.read_csv(table)["size"].sum() == 400
    assert cases_main(["build", "--records", str(tmp_path / "none.csv"), "--out", str(out)]) == 2
    assert "none.csv: no such records file" in capsys.readouterr().err


def test_a_seller_ships_one_counterfeit_model_from_its_listings(tmp_path):
    rows = []
    for label in ("genuine", "counterfeit"):
        for model in ("air-force-1", "air-jordan-1"):
            for i in range(3):
                name = f"{label}-{model}-{i}.jpg"
                (tmp_path / name).write_bytes(b"x")
                rows.append((name, label, "nike", f"{label}-{model}-{i}", model))
    manifest = tmp_path / "photos.csv"
    pd.DataFrame(rows, columns=["path", "label", "brand", "parcel_id", "model"]).to_csv(
        manifest, index=False)
    out = tmp_path / "day.csv"
    assert traffic_main(["--parcels", "200", "--sellers", "3", "--photos", str(manifest),
                         "--out", str(out)]) == 0
    day = pd.read_csv(out)
    sellers = day[day["label"] == "counterfeit"]
    assert sellers.groupby("seller_id")["model"].nunique().max() == 1
    assert sellers["photos"].str.contains("counterfeit-").all()
    genuine = day[day["label"] == "genuine"]
    assert genuine["photos"].str.contains("genuine-").all()
    assert sellers["seller_id"].nunique() == 3 and genuine["seller_id"].nunique() > 50


def test_the_spark_backend_says_what_is_missing(monkeypatch):
    from infer.cases.backends import database_api

    # Without Java (and, where it is not installed, without pyspark) the error names what to
    # install instead of failing inside Spark's launcher.
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match="the spark backend needs pyspark and Java: "
                                           "(pyspark is not installed|no `java`)"):
        database_api("spark")
    with pytest.raises(ValueError, match="unknown backend"):
        database_api("sqlite")


def test_the_case_table_carries_pooled_scores(small_day):
    day, result = small_day
    logits = pd.Series(np.where(day["label"] == "counterfeit", 3.0, -3.0),
                       index=day["parcel_id"].to_numpy())
    table = cases_table(result, logits)
    biggest = table.iloc[0]
    assert biggest["case_logit"] > 2.5 and biggest["case_probability"] > 0.9
    assert table["case_probability"].between(0, 1).all()
