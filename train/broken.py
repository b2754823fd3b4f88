"""Unreadable training photos: reported and skipped, unless there are so many that the data
itself is suspect (a half-synced folder, a wrong path prefix), in which case nothing trains."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class TooManyBrokenPhotos(RuntimeError):
    pass


def unreadable_table(paths: list[str], errors: list[str | None]) -> pd.DataFrame:
    rows = []
    for path, error in zip(paths, errors, strict=True):
        if error is not None:
            # PhotoError text is "<name>: <reason>"; keep the reason on its own.
            reason = error[len(path) + 2 :] if error.startswith(f"{path}: ") else error
            rows.append({"path": path, "reason": reason})
    return pd.DataFrame(rows, columns=["path", "reason"])


def check_unreadable(table: pd.DataFrame, total: int, max_share: float, out_dir: Path) -> None:
    """Write the list beside the run; stop before training when the share is over `max_share`."""
    if table.empty:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    listing = out_dir / "unreadable_photos.csv"
    table.to_csv(listing, index=False)
    share = len(table) / max(1, total)
    for row in table.head(20).itertuples():
        print(f"warning: skipping unreadable photo {row.path}: {row.reason}")
    if len(table) > 20:
        print(f"warning: ... and {len(table) - 20} more (all listed in {listing})")
    if share > max_share:
        shown = "\n".join(f"  {r.path}: {r.reason}" for r in table.head(20).itertuples())
        more = f"\n  ... {len(table) - 20} more" if len(table) > 20 else ""
        raise TooManyBrokenPhotos(
            f"{len(table)} of {total} photos ({share:.1%}) cannot be read, over the "
            f"data.max_broken_share limit of {max_share:.1%}; nothing was trained. "
            f"Fix or remove them (full list: {listing}), or raise data.max_broken_share.\n"
            f"{shown}{more}"
        )
