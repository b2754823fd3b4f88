"""The cases linkage on Spark (local mode) finds the planted seller and agrees with DuckDB."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("splink")

from infer.cases.backends import spark_missing  # noqa: E402
from infer.cases.cli import main as cases_main  # noqa: E402
from train.traffic import simulate_day  # noqa: E402

MISSING = spark_missing()
# About 100 s on 2 cores, nearly all of it Spark's per-query overhead: slow, so the default run
# stays within its budget; `pytest -m slow` runs it (.ci/run installs Java and pyspark for it).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    MISSING is not None, reason=f"the spark backend needs pyspark and Java: {MISSING}")]

TRUTH = ["label", "seller_id", "brand", "model"]
EMBEDDING_SIZE = 32


def _photo_embeddings(day: pd.DataFrame, seed: int = 0) -> list[str]:
    # A seller's fakes are one batch: their photos sit closer together than genuine pairs of
    # the same model do. JSON text, as a CSV of records carries it.
    rng = np.random.default_rng(seed)
    centres = {key: rng.standard_normal(EMBEDDING_SIZE)
               for key in day[["label", "model"]].drop_duplicates().itertuples(index=False)}
    spread = {"counterfeit": 0.15, "genuine": 0.8}
    return [json.dumps((centres[(label, model)]
                        + spread[label] * rng.standard_normal(EMBEDDING_SIZE)).round(4).tolist())
            for label, model in zip(day["label"], day["model"], strict=True)]


@pytest.fixture(scope="module")
def both_backends(tmp_path_factory):
    # One seller's 75 parcels among genuine senders: big enough that EM learns from its pairs.
    # Spark's time goes on its few hundred queries, hardly on rows, so a bigger day would test
    # no more and cost more.
    day = simulate_day(300, seed=3, sellers=1, counterfeit_share=0.25)
    day["photo_embedding"] = _photo_embeddings(day)
    folder = tmp_path_factory.mktemp("spark-day")
    records = folder / "day.csv"
    day.drop(columns=TRUTH).to_csv(records, index=False)
    runs = {}
    for backend in ("duckdb", "spark"):
        cases, pairs = folder / f"{backend}-cases.csv", folder / f"{backend}-pairs.csv"
        assert cases_main(["build", "--records", str(records), "--out", str(cases),
                           "--pairs-out", str(pairs), "--backend", backend]) == 0
        runs[backend] = (pd.read_csv(cases, dtype={"parcel_id": str, "case_id": str}),
                         pd.read_csv(pairs, dtype={"parcel_id_l": str, "parcel_id_r": str}))
    yield day, runs
    from pyspark.sql import SparkSession

    # The JVM holds a gigabyte; the rest of the suite does not need it.
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def test_spark_finds_the_planted_seller(both_backends):
    day, runs = both_backends
    cases, pairs = runs["spark"]
    joined = cases.merge(day[["parcel_id", "label"]], on="parcel_id")
    assert len(joined) == len(day)
    seller = joined[joined["label"] == "counterfeit"]
    biggest = seller["case_id"].value_counts()
    assert biggest.iloc[0] >= 0.9 * len(seller), biggest.head()
    members = joined[joined["case_id"] == biggest.index[0]]
    assert (members["label"] == "genuine").sum() <= 1
    # Every comparison ran in Spark SQL, the photo signatures' Levenshtein and the sender
    # names' Jaro-Winkler (from Splink's jar) among them.
    assert {"mw_photo_bits", "mw_name_norm", "mw_address", "mw_dispatch_time"} <= set(pairs)
    assert pairs["mw_photo_bits"].notna().all() and (pairs["mw_photo_bits"] > 0).any()


def test_spark_and_duckdb_make_the_same_cases(both_backends):
    _, runs = both_backends
    (duck_cases, duck_pairs), (spark_cases, spark_pairs) = runs["duckdb"], runs["spark"]
    # Case ids are one member's id, which either engine may pick: compare who is with whom.
    def mates(cases):
        groups = cases.groupby("case_id")["parcel_id"].agg(frozenset)
        return cases.set_index("parcel_id")["case_id"].map(groups)

    duck, spark = mates(duck_cases), mates(spark_cases).reindex(duck_cases["parcel_id"])
    assert (duck == spark).mean() >= 0.99, duck[duck != spark].head()
    # The same pairs, scored alike: the model learnt on each engine is the same model.
    keys = ["parcel_id_l", "parcel_id_r"]
    both = duck_pairs.merge(spark_pairs, on=keys, how="outer", suffixes=("_duck", "_spark"),
                            indicator=True)
    assert (both["_merge"] == "both").mean() >= 0.99
    both = both[both["_merge"] == "both"]
    assert list(duck_pairs.columns) == list(spark_pairs.columns)
    # Within a tenth of a bit: the engines' Jaro-Winkler functions differ in the last digits,
    # so the name's weights do a little; every other comparison agrees to rounding.
    for column in [c for c in duck_pairs.columns if c.startswith("mw_")] + ["match_weight"]:
        tolerance = 0.1 if column in ("mw_name_norm", "match_weight") else 1e-6
        assert np.allclose(both[f"{column}_duck"], both[f"{column}_spark"], atol=tolerance,
                           equal_nan=True), column
