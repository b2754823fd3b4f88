"""Read and validate a photo manifest (format: datasets/README.md).

A manifest is a CSV with `path` (relative to the manifest) and at least one of `label`
(genuine | counterfeit | empty = unknown) and `brand`; `parcel_id`, `view`, `defects` are
optional and other columns are kept but ignored. Problems are reported with the file and the
CSV line numbers, all at once, before any work starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LABELS = ("genuine", "counterfeit")
MAX_LISTED = 5


class ManifestError(ValueError):
    pass


def _lines(index: pd.Index) -> str:
    # +2: one for the header, one because CSV lines count from 1.
    shown = ", ".join(str(i + 2) for i in index[:MAX_LISTED])
    more = f" (and {len(index) - MAX_LISTED} more)" if len(index) > MAX_LISTED else ""
    return f"line {shown}{more}" if len(index) == 1 else f"lines {shown}{more}"


def read_manifest(path: str | Path, check_files: bool = True, source: str | None = None) -> pd.DataFrame:
    """DataFrame with absolute `path`, `label` (None if unknown), `target` (1/0/NaN), `brand`
    ("" if unknown), `parcel_id`, `view`, `defects` and `source` (the manifest's folder name)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not a readable CSV ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise ManifestError(f"{path}: empty file, expected a CSV header with `path`") from exc
    df.columns = [c.strip() for c in df.columns]
    if "path" not in df.columns:
        raise ManifestError(f"{path}: no `path` column (columns: {list(df.columns)})")
    if "label" not in df.columns and "brand" not in df.columns:
        raise ManifestError(f"{path}: needs a `label` or a `brand` column, has neither")
    if df.empty:
        raise ManifestError(f"{path}: no rows")

    problems = []
    df["path"] = df["path"].str.strip()
    empty = df.index[df["path"] == ""]
    if len(empty):
        problems.append(f"empty `path` on {_lines(empty)}")
    labels = df["label"].str.strip().str.lower() if "label" in df.columns else pd.Series("", index=df.index)
    bad = df.index[~labels.isin(("", *LABELS))]
    if len(bad):
        values = sorted(set(df.loc[bad, "label"]))[:MAX_LISTED]
        problems.append(f"`label` must be genuine, counterfeit or empty; got {values} on {_lines(bad)}")
    base = path.parent.resolve()
    full = [str((base / p).resolve()) if p else "" for p in df["path"]]
    if check_files:
        missing = df.index[[bool(p) and not Path(f).is_file() for p, f in zip(df["path"], full, strict=True)]]
        if len(missing):
            problems.append(
                f"{len(missing)} photo file(s) not found, e.g. {df.loc[missing[0], 'path']!r} on "
                f"{_lines(missing)}"
            )
    if problems:
        raise ManifestError(f"{path}: " + "; ".join(problems))

    out = pd.DataFrame(index=df.index)
    out["path"] = full
    out["label"] = [lab if lab else None for lab in labels]
    out["target"] = labels.map({"counterfeit": 1.0, "genuine": 0.0}).astype(float)
    out["brand"] = df["brand"].str.strip().str.lower() if "brand" in df.columns else ""
    if "parcel_id" in df.columns and (df["parcel_id"].str.strip() != "").all():
        out["parcel_id"] = df["parcel_id"].str.strip()
    else:
        # Without parcel ids each photo is its own parcel: the only safe assumption for splits.
        out["parcel_id"] = df.get("parcel_id", pd.Series("", index=df.index)).str.strip()
        blank = out["parcel_id"] == ""
        out.loc[blank, "parcel_id"] = [f"photo-{i}" for i in df.index[blank]]
    for column in ("view", "defects", "visible_defects"):
        out[column] = df[column].str.strip() if column in df.columns else ""
    out["source"] = source or path.parent.name
    for column in df.columns:
        if column not in out.columns:
            out[column] = df[column]
    return out.reset_index(drop=True)


def has_labels(df: pd.DataFrame) -> bool:
    return bool(np.isfinite(df["target"]).any())
