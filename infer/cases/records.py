"""Parcel records: read, check and normalise them for linking.

A record is one parcel's export declaration. Every column but `parcel_id` is optional; a column
that is absent is simply not compared. A value that cannot be read (a date that does not parse,
a negative weight, a value that is no number) is reported as a `Problem` naming the parcel and the
column and becomes null: one clerk's typo must not stop a day's linking.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PARCEL_COLUMNS = (
    "sender_name", "sender_address", "sender_phone", "origin_city", "dispatch_country",
    "dispatch_time", "destination_country", "recipient_name", "platform", "seller_account",
    "declared_goods", "declared_value", "weight_g",
)
# Optional evidence from the parcel's photos: the label's style code and "made in" line as read,
# and the parcel's pooled photo embedding (a list of floats, or its JSON text in a CSV).
EVIDENCE_COLUMNS = ("style_code", "made_in", "photo_embedding")
NUMBER_COLUMNS = ("declared_value", "weight_g")
TIME_COLUMN = "dispatch_time"

# Spellings of one address word that clerks and sellers swap; mapped to one token so the
# string distance measures typos, not abbreviations.
ADDRESS_ABBREVIATIONS = {
    "road": "rd", "street": "st", "str": "st", "avenue": "ave", "av": "ave", "building": "bldg",
    "bld": "bldg", "room": "rm", "floor": "fl", "district": "dist", "industrial": "ind",
    "industry": "ind", "park": "pk", "number": "no", "num": "no", "unit": "unit", "east": "e",
    "west": "w", "north": "n", "south": "s", "village": "vil", "town": "tn", "zone": "zn",
}
# Bits of the photo signature (random-hyperplane hash of the pooled embedding, below).
SIGNATURE_BITS = 64


@dataclass(frozen=True)
class Problem:
    """One value that could not be read; the value was set to null."""

    parcel_id: str
    column: str
    value: str
    problem: str

    def __str__(self) -> str:
        return f"parcel {self.parcel_id}: {self.column}={self.value!r}: {self.problem}"


def read_records(path: str | Path) -> tuple[pd.DataFrame, list[Problem]]:
    """Read a CSV of parcel records; a file that cannot be read is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such records file")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV of parcel records ({err})") from err
    if "parcel_id" not in frame.columns:
        raise ValueError(f"{path}: no parcel_id column (columns: {', '.join(frame.columns)})")
    return clean_records(frame)


def clean_records(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Typed copy of `frame` and the problems found; never raises on a bad value."""
    if "parcel_id" not in frame.columns:
        raise ValueError(f"parcel records need a parcel_id column (columns: {list(frame.columns)})")
    problems: list[Problem] = []
    out = frame.copy()
    out["parcel_id"] = out["parcel_id"].map(_text)
    out, problems = _drop_unusable_ids(out, problems)
    ids = out["parcel_id"]
    for column in out.columns:
        if column == "parcel_id":
            continue
        if column == TIME_COLUMN:
            out[column] = _times(out[column], ids, problems)
        elif column in NUMBER_COLUMNS:
            out[column] = _numbers(out[column], ids, column, problems)
        elif column == "photo_embedding":
            out[column] = _embeddings(out[column], ids, problems)
        elif out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_text)
    return out.reset_index(drop=True), problems


def missing(value) -> bool:
    """None, NaN, NA or NaT (pandas writes any of them for an empty cell)."""
    if value is None:
        return True
    # Text is by far the commonest cell, and a day holds millions of them.
    if isinstance(value, str):
        return False
    return np.ndim(value) == 0 and bool(pd.isna(value))


def _text(value) -> str | None:
    if missing(value):
        return None
    text = str(value).strip()
    return text or None


def _drop_unusable_ids(frame: pd.DataFrame, problems: list[Problem]):
    # Without a unique id a parcel cannot be named in a case; it is reported and left out.
    missing = frame["parcel_id"].isna()
    for row in np.flatnonzero(missing.to_numpy()):
        problems.append(Problem(f"row {row + 2}", "parcel_id", "", "no parcel_id; left out"))
    frame = frame[~missing]
    repeated = frame["parcel_id"].duplicated()
    for pid in frame.loc[repeated, "parcel_id"]:
        problems.append(Problem(pid, "parcel_id", pid, "repeated parcel_id; later rows left out"))
    return frame[~repeated], problems


def _times(values: pd.Series, ids: pd.Series, problems: list[Problem]) -> pd.Series:
    text = values.map(_text)
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    for pid, value in zip(ids[text.notna() & parsed.isna()], text[text.notna() & parsed.isna()],
                          strict=True):
        problems.append(Problem(pid, TIME_COLUMN, value, "not a date and time"))
    # Times compare in UTC; naive times are read as UTC.
    return parsed.dt.tz_convert(None)


def _numbers(values: pd.Series, ids: pd.Series, column: str,
             problems: list[Problem]) -> pd.Series:
    text = values.map(_text)
    numbers = pd.to_numeric(text, errors="coerce").astype("float64")
    for pid, value in zip(ids[text.notna() & numbers.isna()], text[text.notna() & numbers.isna()],
                          strict=True):
        problems.append(Problem(pid, column, value, "not a number"))
    negative = numbers < 0 if column == "declared_value" else numbers <= 0
    for pid, value in zip(ids[negative], text[negative], strict=True):
        problems.append(Problem(pid, column, value, "negative" if column == "declared_value"
                                else "not a positive weight"))
    return numbers.mask(negative)


def _embeddings(values: pd.Series, ids: pd.Series, problems: list[Problem]) -> pd.Series:
    out = []
    for pid, value in zip(ids, values, strict=True):
        vector = _vector(value)
        if vector is None and not _blank(value):
            problems.append(Problem(pid, "photo_embedding", str(value)[:40], "not a list of numbers"))
        out.append(vector)
    # One model embeds every parcel; a vector of another length comes from elsewhere.
    sizes = pd.Series([v.size for v in out if v is not None])
    if len(sizes):
        size = int(sizes.mode().iloc[0])
        for i, (pid, vector) in enumerate(zip(ids, out, strict=True)):
            if vector is not None and vector.size != size:
                problems.append(Problem(pid, "photo_embedding", f"{vector.size} numbers",
                                        f"the other parcels' embeddings have {size}"))
                out[i] = None
    return pd.Series(out, index=values.index, dtype=object)


def _blank(value) -> bool:
    if isinstance(value, list | tuple | np.ndarray):
        return len(value) == 0
    return _text(value) is None


def _vector(value) -> np.ndarray | None:
    if isinstance(value, list | tuple | np.ndarray):
        raw = value
    elif _text(value) is None:
        return None
    else:
        try:
            raw = json.loads(str(value))
        except json.JSONDecodeError:
            return None
    try:
        vector = np.asarray(raw, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
    finite = vector.size > 0 and np.isfinite(vector).all() and np.linalg.norm(vector) > 0
    return vector if finite else None


def normalise_names(values: pd.Series) -> pd.Series:
    """Each value lower case, accents and punctuation dropped, spaces collapsed; None where
    nothing is left. In Arrow's string kernels: a national day holds millions of names and
    addresses, too many to treat one by one in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        text = pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers among the text
        text = pa.array([None if missing(v) else str(v) for v in values], type=pa.string())
    text = pc.utf8_normalize(text, form="NFKD")
    # NFKD splits an accent off its letter; dropping all that is not ASCII drops the accent.
    text = pc.replace_substring_regex(text, pattern=r"[^\x00-\x7f]+", replacement="")
    text = pc.ascii_lower(text)
    text = pc.replace_substring_regex(text, pattern="[^a-z0-9]+", replacement=" ")
    text = pc.utf8_trim_whitespace(text)
    return _objects(pc.if_else(pc.equal(text, ""), None, text), values.index)


def normalise_addresses(values: pd.Series) -> pd.Series:
    """Each address normalised (`normalise_names`), every abbreviable word spelt one way."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(normalise_names(values), type=pa.string(), from_pandas=True)
    for word, short in ADDRESS_ABBREVIATIONS.items():
        if word != short:
            text = pc.replace_substring_regex(text, pattern=rf"\b{word}\b", replacement=short)
    return _objects(text, values.index)


def _objects(text, index: pd.Index) -> pd.Series:
    # Plain str and None, as the linking frame hands them on (no NaN, no pandas NA).
    import pyarrow.compute as pc

    out = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    out[np.asarray(pc.is_null(text))] = None
    return pd.Series(out, index=index, dtype=object)


def phone_digits(value: str | None) -> str | None:
    """The number's digits, at most the last 11 (a mobile number in China; drops +86 / 0086)."""
    if missing(value):
        return None
    digits = re.sub(r"\D", "", str(value))
    return digits[-11:] if len(digits) >= 5 else None
