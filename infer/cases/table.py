"""One row per case, as the review queue will store it and a liaison will read it."""

from __future__ import annotations

import pandas as pd

from infer.cases.link import LinkResult
from infer.cases.pooling import case_logits, probability

# How many of a case's strongest kinds of evidence to name.
REASONS = 3


def cases_table(result: LinkResult, parcel_logits: pd.Series | None = None) -> pd.DataFrame:
    """Cases, largest first: ids, size, member parcels (';'-joined), what links them (the
    comparisons with the highest mean match weight over the case's linking pairs), and what the
    records say (sender names, origin cities, destinations, dispatch span). With
    `parcel_logits` (indexed by parcel_id) also the pooled `case_logit` and `case_probability`."""
    cases = result.cases
    members = cases.groupby("case_id")["parcel_id"].agg(lambda ids: ";".join(sorted(ids)))
    table = pd.DataFrame({"case_id": members.index, "size": cases.groupby("case_id").size()
                          .reindex(members.index).to_numpy(), "parcel_ids": members.to_numpy()})
    table = table.merge(_evidence(result), on="case_id", how="left")
    if result.records is not None:
        table = table.merge(_summary(result.records, cases), on="case_id", how="left")
    if parcel_logits is not None:
        pooled = case_logits(cases, parcel_logits).groupby(cases["case_id"].to_numpy()).first()
        table["case_logit"] = table["case_id"].map(pooled)
        table["case_probability"] = probability(table["case_logit"].to_numpy())
    return table.sort_values(["size", "case_id"], ascending=[False, True], ignore_index=True)


def _evidence(result: LinkResult) -> pd.DataFrame:
    pairs = result.pairs
    case_of = result.cases.set_index("parcel_id")["case_id"]
    inside = pairs[(pairs["match_probability"] >= result.threshold)
                   & (pairs["parcel_id_l"].map(case_of) == pairs["parcel_id_r"].map(case_of))]
    if inside.empty:
        return pd.DataFrame(columns=["case_id", "mean_match_probability", "linked_by"])
    inside = inside.assign(case_id=inside["parcel_id_l"].map(case_of))
    weights = [c for c in inside.columns if c.startswith("mw_")]
    mean = inside.groupby("case_id")[weights].mean()
    linked_by = mean.apply(lambda row: ";".join(
        c[3:] for c in row.sort_values(ascending=False).index[:REASONS] if row[c] > 0), axis=1)
    return pd.DataFrame({
        "case_id": mean.index,
        "mean_match_probability": inside.groupby("case_id")["match_probability"].mean()
        .reindex(mean.index).to_numpy(),
        "linked_by": linked_by.to_numpy(),
    })


def _summary(records: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    joined = records.assign(case_id=records["parcel_id"].astype(str).map(
        cases.set_index("parcel_id")["case_id"]))
    grouped = joined.groupby("case_id")
    out = pd.DataFrame(index=grouped.size().index)
    for column, name in (("sender_name", "sender_names"), ("origin_city", "origin_cities"),
                         ("destination_country", "destinations")):
        if column in joined:
            out[name] = grouped[column].agg(lambda v: ";".join(sorted(set(v.dropna()))))
    if "sender_name" in joined:
        out["distinct_sender_names"] = grouped["sender_name"].nunique()
    if "dispatch_time" in joined:
        out["first_dispatch"] = grouped["dispatch_time"].min()
        out["last_dispatch"] = grouped["dispatch_time"].max()
    return out.reset_index()
