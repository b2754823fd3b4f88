"""The columns Splink compares, derived from cleaned parcel records (`records.clean_records`).

Only columns whose source is present and not wholly empty are made, and `settings` compares only
what is made, so a day's file without phones simply links on the rest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from infer.cases.records import (
    ADDRESS_ABBREVIATIONS,
    SIGNATURE_BITS,
    normalise_addresses,
    normalise_names,
    phone_digits,
)

# Words every address has; shared, they say nothing about who wrote it.
GENERIC_ADDRESS_WORDS = frozenset(ADDRESS_ABBREVIATIONS.values()) | {"no", "china", "cn", "prc"}


def linking_frame(records: pd.DataFrame) -> pd.DataFrame:
    """One row per parcel: `unique_id` (the parcel id) and the normalised linking columns."""
    out = pd.DataFrame({"unique_id": records["parcel_id"].astype(str).to_numpy()})
    get = records.get
    if get("sender_name") is not None:
        out["name_norm"] = _values(normalise_names(records["sender_name"]))
    if get("sender_address") is not None:
        addresses = normalise_addresses(records["sender_address"])
        out["address_norm"] = _values(addresses)
        out["address_keys"] = _values(addresses.map(
            lambda a: address_keys(a.split()) if isinstance(a, str) else None))
    if get("sender_phone") is not None:
        digits = records["sender_phone"].map(phone_digits)
        out["phone_digits"] = _values(digits)
        out["phone_last7"] = _values(digits.map(lambda d: d[-7:] if isinstance(d, str) else None))
    if get("seller_account") is not None:
        out["seller_key"] = _values(_seller_keys(records))
    for column in ("origin_city", "destination_country", "made_in"):
        if get(column) is not None:
            out[column] = _values(normalise_names(records[column]))
    if get("style_code") is not None:
        out["style_code"] = _values(normalise_names(records["style_code"])
                                    .str.replace(" ", "").str.upper())
    if get("dispatch_time") is not None:
        times = pd.to_datetime(records["dispatch_time"]).to_numpy()
        out["dispatch_time"] = times
        out["dispatch_hour"] = _values(pd.Series(times).dt.strftime("%Y-%m-%dT%H"))
    if get("photo_embedding") is not None:
        out["photo_bits"] = _values(photo_signatures(records["photo_embedding"]))
    return out.drop(columns=[c for c in out.columns if c != "unique_id" and out[c].isna().all()])


def address_keys(tokens: list[str]) -> list[str] | None:
    """The address's distinctive words (numbers, street, district, city), each once: a room or
    a province left out changes the string a lot but these sets little."""
    keys = sorted({t for t in tokens if t not in GENERIC_ADDRESS_WORDS})
    return keys or None


def _values(series: pd.Series) -> np.ndarray:
    # Plain object arrays with None: DuckDB and Spark both read them as nullable text.
    values = series.astype(object).to_numpy().copy()
    values[pd.isna(series).to_numpy()] = None
    return values


def _seller_keys(records: pd.DataFrame) -> pd.Series:
    # An account name is only unique within its platform.
    accounts = normalise_names(records["seller_account"])
    if "platform" not in records:
        return accounts
    platforms = normalise_names(records["platform"]).fillna("")
    return (platforms + ":" + accounts).where(accounts.notna(), None)


def photo_signatures(embeddings: pd.Series, seed: int = 0) -> pd.Series:
    """Each embedding as a string of SIGNATURE_BITS '0'/'1' characters (random-hyperplane hash).

    Two parcels whose embeddings are at angle θ differ in about SIGNATURE_BITS·θ/π bits, so a
    string distance between signatures stands in for cosine similarity. It is computed here, not
    in SQL, because Splink's Spark dialect has no cosine function, and Levenshtein runs on both.
    """
    vectors = [v for v in embeddings if v is not None]
    if not vectors:
        return pd.Series([None] * len(embeddings), dtype=object)
    dim = vectors[0].size
    planes = np.random.default_rng(seed).standard_normal((dim, SIGNATURE_BITS))
    out = []
    for vector in embeddings:
        if vector is None:
            out.append(None)
            continue
        bits = (np.asarray(vector) @ planes) > 0
        out.append("".join("1" if b else "0" for b in bits))
    return pd.Series(out, dtype=object)
