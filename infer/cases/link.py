"""Link parcel records into cases: one case per seller, however many sender names it used.

Splink scores pairs of parcels that share a blocking key (`settings`), with m and u parameters
estimated on the day itself (random sampling for u, expectation maximisation for m; no labelled
pairs), and the cases are the connected components of the pairs at or above `threshold`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd
from tqdm import tqdm

from infer.cases.backends import database_api, input_table
from infer.cases.features import linking_frame
from infer.cases.records import Problem, clean_records
from infer.cases.settings import deterministic_keys, prediction_blocking, settings, training_keys

# Share of true same-seller pairs that the deterministic rules (same account, same phone) find;
# it scales their count up to the prior match probability.
DETERMINISTIC_RECALL = 0.8
# An EM session on fewer pairs than this learns nothing and may fail; it is skipped.
MIN_TRAINING_PAIRS = 10
# Least m probability of any level: EM on one day can learn that a level never occurs among
# matches (every seller shipped from one city) and turn it into a veto no other evidence could
# outweigh; the floor caps a disagreement's weight at about log2(M_FLOOR / u).
M_FLOOR = 0.01
# Pairs kept for explanation: those at least this likely, or the threshold if lower.
KEEP_PAIRS_ABOVE = 0.5
# Random sampling for u and EM for m learn what a pair of parcels looks like, not how many
# pairs there are, and EM's pairs grow with the square of the day: a larger day is trained on
# a random sample of this many parcels, then every parcel is scored with what it learnt.
TRAIN_PARCELS = 100_000


@dataclass
class LinkResult:
    """Cases per parcel, the scored pairs that made them, and the records' problems."""

    cases: pd.DataFrame  # parcel_id, case_id, case_size; every parcel, singletons included
    pairs: pd.DataFrame  # parcel_id_l, parcel_id_r, match_probability, match_weight, mw_<comp>
    problems: list[Problem] = field(default_factory=list)
    threshold: float = 0.99
    backend: str = "duckdb"
    comparisons: list[str] = field(default_factory=list)
    records: pd.DataFrame | None = None  # the cleaned records, bad values nulled


def link_parcels(records: pd.DataFrame, backend: str = "duckdb", threshold: float = 0.99,
                 seed: int = 0, max_pairs: float = 1e6, progress: bool = False) -> LinkResult:
    """Cases of `records` (one row per parcel, `parcel_id` and any of `records.PARCEL_COLUMNS`)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be a probability strictly between 0 and 1, got {threshold}")
    cleaned, problems = clean_records(records)
    frame = linking_frame(cleaned)
    if len(frame) < 2:
        return LinkResult(_singletons(frame), _no_pairs(), problems, threshold, backend,
                          records=cleaned)
    columns = set(frame.columns)
    if not prediction_blocking(columns):
        raise ValueError("parcel records have no column to block on (sender name, address, "
                         "phone, seller account, or origin city + destination + day)")
    steps = tqdm(total=5, desc="linking", disable=not progress)
    linker = _trained_linker(frame, backend, seed, max_pairs, steps)
    scored = linker.inference.predict(threshold_match_probability=min(threshold, KEEP_PAIRS_ABOVE))
    steps.update()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        scored, threshold_match_probability=threshold)
    cases = _cases(linker.misc.query_sql(
        f"select unique_id, cluster_id from {clusters.physical_name}"), frame)
    pairs = explain_pairs(linker.misc.query_sql(_explained_sql(scored)))
    steps.update()
    steps.close()
    names = [c.output_column_name for c in linker._settings_obj.comparisons]
    return LinkResult(cases, pairs, problems, threshold, backend, names, cleaned)


def _trained_linker(frame: pd.DataFrame, backend: str, seed: int, max_pairs: float, steps: tqdm):
    from splink import Linker, block_on

    columns = set(frame.columns)
    # Splink logs every SQL step at INFO; a day's run should print progress, not queries.
    logging.getLogger("splink").setLevel(logging.WARNING)
    sample = frame.sample(TRAIN_PARCELS, random_state=seed) if len(frame) > TRAIN_PARCELS \
        else frame
    api = database_api(backend)
    linker = Linker(input_table(sample, api), settings(columns), api, set_up_basic_logging=False)
    keys = deterministic_keys(columns)
    # A random sample of parcels keeps the share of pairs that match, which is what this is.
    if sum(_pairs_sharing(sample, k) for k in keys) > 0:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(k) for k in keys], recall=DETERMINISTIC_RECALL)
    steps.update()
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    steps.update()
    for key in training_keys(columns):
        if _pairs_sharing(sample, key) >= MIN_TRAINING_PAIRS:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(key), estimate_without_term_frequencies=True)
    _floor_m(linker)
    steps.update()
    if sample is frame:
        return linker
    api = database_api(backend)
    return Linker(input_table(frame, api), linker.misc.save_model_to_json(), api,
                  set_up_basic_logging=False)


def _explained_sql(scored) -> str:
    """The scored pairs with each comparison's match weight, and nothing else: a national
    day keeps millions of pairs, and the records' own columns are in the queue."""
    names = {c.unquote().name for c in scored.columns}
    weights = []
    for column in sorted(names):
        if column.startswith("bf_") and not column.startswith("bf_tf_adj_"):
            factor = column if f"bf_tf_adj_{column[3:]}" not in names else \
                f"{column} * bf_tf_adj_{column[3:]}"
            weights.append(f"log2({factor}) as mw_{column[3:]}")
    return (f"select cast(unique_id_l as string) as parcel_id_l, "
            f"cast(unique_id_r as string) as parcel_id_r, match_probability, match_weight"
            f"{''.join(', ' + w for w in weights)} from {scored.physical_name}")


def _floor_m(linker) -> None:
    for comparison in linker._settings_obj.comparisons:
        for level in comparison.comparison_levels:
            if not level.is_null_level and (level.m_probability or 1.0) < M_FLOOR:
                level.m_probability = M_FLOOR


def _pairs_sharing(frame: pd.DataFrame, column: str) -> int:
    """Pairs of parcels with one non-null value of `column`."""
    sizes = frame[column].dropna().value_counts()
    return int((sizes * (sizes - 1) // 2).sum())


def explain_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Scored pairs (`_explained_sql`) with each comparison's match weight (log2 Bayes factor,
    term frequency adjustment included): a positive `mw_phone` says the phone argued for the
    link. Most likely first."""
    pairs = pairs.astype({c: float for c in pairs.columns if not c.startswith("parcel_id")})
    return pairs.sort_values("match_probability", ascending=False, ignore_index=True)


def _cases(clusters: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    case_of = dict(zip(clusters["unique_id"].astype(str), clusters["cluster_id"].astype(str),
                       strict=True))
    # A parcel Splink never saw in a pair is its own case.
    ids = frame["unique_id"].astype(str)
    cases = pd.DataFrame({"parcel_id": ids, "case_id": [case_of.get(i, i) for i in ids]})
    cases["case_size"] = cases.groupby("case_id")["parcel_id"].transform("size")
    return cases


def _singletons(frame: pd.DataFrame) -> pd.DataFrame:
    ids = frame["unique_id"].astype(str)
    return pd.DataFrame({"parcel_id": ids, "case_id": ids, "case_size": 1})


def _no_pairs() -> pd.DataFrame:
    return pd.DataFrame(columns=["parcel_id_l", "parcel_id_r", "match_probability",
                                 "match_weight"])
