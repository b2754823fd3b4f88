"""The one Splink model of who sent a parcel: comparisons, blocking and training rules.

Everything here is backend-neutral (Splink renders it to DuckDB or Spark SQL), so the day's
in-process DuckDB run and a Spark run use the same model. Each piece is made only for
the linking columns present (`features.linking_frame`).
"""

from __future__ import annotations

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

# Prior for EM before `probability_two_random_records_match` is estimated: a day of 10,000
# parcels where a seller's 300 parcels all match holds about 1 matching pair in 1,000.
PRIOR_MATCH = 1e-3


def _graded(name: str, column: str, *between) -> object:
    """A comparison of `column`: missing, the same, the `between` levels in order, else different."""
    return cl.CustomComparison(output_column_name=name, comparison_levels=[
        cll.NullLevel(column), cll.ExactMatchLevel(column), *between, cll.ElseLevel()])


def comparisons(columns: set[str]) -> list:
    """Comparisons of the columns present, strongest identifiers first."""
    made = []
    if "seller_key" in columns:
        made.append(cl.ExactMatch("seller_key"))
    if "phone_digits" in columns:
        # The same line written with another prefix, or one SIM of a numbered batch.
        made.append(_graded("phone", "phone_digits", cll.ExactMatchLevel("phone_last7")))
    if "name_norm" in columns:
        # Two parcels from "Wang Wei" say less than two from a rare name.
        made.append(cl.JaroWinklerAtThresholds("name_norm", [0.95, 0.85])
                    .configure(term_frequency_adjustments=True))
    if "address_norm" in columns:
        # Absolute edits, not Jaro-Winkler: one city's addresses share long prefixes. Then a
        # room or province dropped, abbreviations aside: the distinctive words agree.
        made.append(_graded("address", "address_norm", cll.LevenshteinLevel("address_norm", 3),
                            cll.ArrayIntersectLevel("address_keys", 5),
                            cll.ArrayIntersectLevel("address_keys", 4)))
    if "dispatch_time" in columns:
        made.append(cl.AbsoluteTimeDifferenceAtThresholds(
            "dispatch_time", input_is_string=False, metrics=["minute", "hour", "hour"],
            thresholds=[30, 3, 12]))
    for column in ("origin_city", "destination_country"):
        if column in columns:
            # A rare city in common says more than Yiwu in common.
            made.append(cl.ExactMatch(column).configure(term_frequency_adjustments=True))
    for column in ("style_code", "made_in"):
        if column in columns:
            made.append(cl.ExactMatch(column))
    if "photo_bits" in columns:
        # 64-bit signatures: ≤ 6 differing characters is cosine ≳ 0.95, ≤ 14 is ≳ 0.8.
        made.append(cl.LevenshteinAtThresholds("photo_bits", [6, 14]))
    return made


def prediction_blocking(columns: set[str]) -> list:
    """Which pairs are scored at all: parcels that share at least one strong key."""
    rules = [block_on(c) for c in ("seller_key", "phone_last7") if c in columns]
    if "name_norm" in columns:
        # A common name alone pairs every sender who bears it; a seller's aliases all post from
        # its one city, so the city cuts those pairs without losing the seller's.
        rules.append(block_on(*[c for c in ("name_norm", "origin_city") if c in columns]))
    if "address_norm" in columns:
        rules.append(block_on("address_norm"))
    # Renamed, rephoned parcels of a seller still share a route, an hour of its dispatch window
    # and (read off the label) a style code. Each key left out multiplies the pairs by a
    # route's volume: by the day instead of the hour, a national day would score 10^8 pairs.
    route = [c for c in ("origin_city", "destination_country", "dispatch_hour", "style_code")
             if c in columns]
    if len(route) >= 3:
        rules.append(block_on(*route))
    return rules


def training_keys(columns: set[str]) -> list[str]:
    """One EM session blocks on each key: each leaves out the comparisons of its key, together
    they estimate every comparison's m values."""
    return [c for c in ("seller_key", "phone_digits", "name_norm", "address_norm")
            if c in columns]


def deterministic_keys(columns: set[str]) -> list[str]:
    """Parcels sharing one of these are almost surely one seller: they estimate the prior."""
    return [c for c in ("seller_key", "phone_digits") if c in columns]


def settings(columns: set[str]) -> SettingsCreator:
    made = comparisons(columns)
    if not made:
        raise ValueError("parcel records have no column to link on (sender, phone, account, ...)")
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=made,
        blocking_rules_to_generate_predictions=prediction_blocking(columns),
        probability_two_random_records_match=PRIOR_MATCH,
        # The pairs are explained by their Bayes factors; the records are in the queue.
        retain_matching_columns=False,
        # Keeps each comparison's Bayes factor, so a link can be explained.
        retain_intermediate_calculation_columns=True,
    )
