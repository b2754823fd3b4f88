"""Build the data of a run: sources -> one photo table -> photos decoded once -> copies found ->
folds; then, per fold or for the one split, the parcel-grouped train/val/test splits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from train import checkpoint, tracking
from train.broken import check_unreadable, unreadable_table
from train.config import Config
from train.copies import copies_of_held_out, copy_pairs, merge_groups
from train.data import (
    Source,
    assign_folds,
    assign_splits,
    cap_parcels,
    decode_all,
    load_sources,
    parse_source,
    thin_training,
    trains_brand,
)
from train.distributed import Context
from train.synthetic_data import ensure_synthetic
from train.text_leaks import find_text_leaks

HOLDOUT_COLUMNS = ("path", "label", "brand", "parcel_id", "view", "defects", "visible_defects", "kind")


@dataclass
class RunData:
    """Everything a run's folds share: the photo table, the decoded photos, the brand list."""

    table: pd.DataFrame
    images: np.ndarray
    brands: list[str]
    sources: list[Source]
    synthetic_dir: Path | None
    unreadable: pd.DataFrame
    text_leaks: pd.DataFrame  # real photos whose own text names the answer
    copies: list
    folds: pd.Series | None  # fold per photo of the eval rows; None for one split
    folds_digest: str | None


def gather_sources(cfg: Config) -> tuple[list[Source], Path | None]:
    sources, synthetic_dir = [], None
    if cfg.data.synthetic.enabled:
        manifest = ensure_synthetic(cfg.data.synthetic)
        synthetic_dir = manifest.parent
        sources.append(Source(manifest, cfg.data.synthetic.weight, synthetic=True))
    sources += [parse_source(entry) for entry in cfg.data.manifests]
    sources += [parse_source(entry, role="val") for entry in cfg.data.val_manifests]
    sources += [parse_source(entry, role="test") for entry in cfg.data.test_manifests]
    return sources, synthetic_dir


def find_copies(table: pd.DataFrame, images: np.ndarray, threshold: float, out: Path | None) -> list:
    """Copies across parcels (train/copies.py): their split groups merged in `table`, the pairs
    written to `out/copies.csv` for a person to check (by one process only)."""
    if not threshold:
        return []
    pairs = copy_pairs(images, table["split_group"].to_numpy(), table["readable"].to_numpy(), threshold)
    if pairs:
        table["split_group"] = merge_groups(table["split_group"], pairs)
    if pairs and out is not None:
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            [{"path_a": table["path"].iat[i], "path_b": table["path"].iat[j], "correlation": round(c, 5),
              "parcel_a": table["parcel_id"].iat[i], "parcel_b": table["parcel_id"].iat[j]}
             for i, j, c in pairs]
        ).to_csv(out / "copies.csv", index=False)
        print(f"{len(pairs)} pair(s) of photos filed under two parcels: those parcels stay on one side of "
              f"every split ({out / 'copies.csv'})")
    return pairs


def build_data(cfg: Config, ctx: Context, out: Path) -> RunData:
    """Read every source, decode every photo once, find copies, fix the brands and the folds.
    Rank 0 generates the synthetic set first; the other ranks find it made."""
    if ctx.active and not ctx.main:
        torch.distributed.barrier()
    sources, synthetic_dir = gather_sources(cfg)
    if ctx.active and ctx.main:
        torch.distributed.barrier()
    table = load_sources(sources)
    images, errors = decode_all(list(table["path"]), cfg.data.image_size, desc="decode photos")
    table["readable"] = [e is None for e in errors]
    unreadable = unreadable_table(list(table["path"]), errors)
    check_unreadable(unreadable, len(table), cfg.data.max_broken_share, out)
    table, images, leaks = guard_text_leaks(cfg, table, images, out if ctx.main else None)
    copies = find_copies(table, images, cfg.data.copy_threshold, out if ctx.main else None)
    brand_rows = trains_brand(table, cfg.data.brand_sources, strict=True) & (table["role"] != "test")
    brands = sorted(table.loc[brand_rows, "brand"].unique())
    folds = digest = None
    if cfg.data.folds:
        eval_rows = table["role"] == "any"
        if cfg.data.eval_sources:
            eval_rows &= table["source_name"].isin(cfg.data.eval_sources)
        folds = assign_folds(table[eval_rows], cfg.data.folds, cfg.data.split_seed)
        digest = checkpoint.folds_digest(table.loc[eval_rows, "path"], folds)
    return RunData(table, images, brands, sources, synthetic_dir, unreadable, leaks, copies, folds, digest)


def guard_text_leaks(cfg: Config, table: pd.DataFrame, images: np.ndarray, out: Path | None):
    """(table, images, leaks): real photos whose text names the answer listed in
    `out/text_leaks.csv` and, with `data.drop_text_leaks`, dropped before anything is split."""
    none = pd.DataFrame(columns=["path", "source", "parcel_id", "words", "text"])
    if not (~table["synthetic"]).any():
        return table, images, none
    if not cfg.data.drop_text_leaks:
        # Reading costs a second or more per real photo on 2 cores; with the guard off nothing
        # is read, as in the runs made before the guard existed.
        print("text-leak guard off (data.drop_text_leaks=false): photos not read for text that names the answer")
        return table, images, none
    leaks = find_text_leaks(table, Path(cfg.data.text_cache))
    if out is not None and len(leaks):
        out.mkdir(parents=True, exist_ok=True)
        leaks.to_csv(out / "text_leaks.csv", index=False)
        print(f"{len(leaks)} photo(s) whose own text names the answer, dropped: {out / 'text_leaks.csv'}")
    if len(leaks):
        keep = ~table["path"].isin(set(leaks["path"])).to_numpy()
        table, images = table[keep].reset_index(drop=True), images[keep]
    return table, images, leaks


def make_splits(cfg: Config, table: pd.DataFrame, split: pd.Series) -> dict[str, pd.DataFrame]:
    splits = {}
    for name in ("train", "val", "test"):
        part = table[split == name]
        splits[name] = cap_parcels(part, cfg.data.max_parcels, cfg.data.split_seed)
    for column in ("parcel_id", "split_group"):  # a group holds parcels: both must stay whole
        seen: set[str] = set()
        for part in splits.values():
            ids = set(part[column])
            if seen & ids:
                raise AssertionError(f"{column}(s) in two splits: {sorted(seen & ids)[:5]}")
            seen |= ids
    return splits


def split_for(cfg: Config, data: RunData, out: Path, fold: int | None, main: bool) -> dict[str, pd.DataFrame]:
    """The train/val/test photos of fold `fold` (None: the run's one split), written to
    `split.csv` (`fold-k/split.csv`) and summarised in MLflow."""
    table = data.table
    assignment = assign_splits(
        table, cfg.data.eval_sources, cfg.data.val_fraction, cfg.data.test_fraction,
        cfg.data.split_seed, fold=None if fold is None else (data.folds, fold),
    )
    assignment.iloc[copies_of_held_out(assignment, data.copies)] = "copy of a held-out photo"
    assignment = thin_training(table, assignment, cfg.data.train_fraction, cfg.data.split_seed)
    if main:
        write_split(table, assignment, out / ("split.csv" if fold is None else f"fold-{fold}/split.csv"))
    splits = make_splits(cfg, table, assignment)
    tracking.log_json(data_summary(splits, data.brands, data.sources), "data/summary.json")
    return splits


def data_summary(splits: dict[str, pd.DataFrame], brands: list[str], sources: list[Source]) -> dict:
    summary = {
        name: {
            "photos": int(len(df)),
            "parcels": int(df["parcel_id"].nunique()),
            "counterfeit_parcels": int((df.groupby("parcel_id")["target"].max() == 1).sum()),
            "unreadable": int((~df["readable"]).sum()),
            "by_source": {k: int(v) for k, v in df["source"].value_counts().sort_index().items()},
        }
        for name, df in splits.items()
    }
    summary["brands"] = brands
    summary["sources"] = [str(s.manifest) + "".join(f"?{c}{op}{v}" for c, op, v in s.filters)
                          for s in sources]
    return summary


def write_split(table: pd.DataFrame, assignment: pd.Series, path: Path) -> None:
    """Every photo with the split it landed in. A later run that warm-starts this one's recipe
    must leave out its validation and test photos (experiments/real-photos/training_rows.py)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({
        "path": table["path"].to_numpy(), "source": table["source_name"].to_numpy(),
        "parcel_id": table["parcel_id"].to_numpy(), "split": assignment.to_numpy(),
    }).to_csv(path, index=False)


def write_holdout(test: pd.DataFrame, folder: Path) -> None:
    """The test split as manifests, one per source (absolute paths): what the model never saw,
    ready for `python -m train.evaluate --manifest`."""
    for name, part in test.groupby("source_name"):
        folder.mkdir(parents=True, exist_ok=True)
        columns = [c for c in HOLDOUT_COLUMNS if c in part and (part[c].astype(str) != "").any()]
        part[columns].fillna("").to_csv(folder / f"{name}.csv", index=False)
