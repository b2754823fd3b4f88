"""Training data: sources -> one photo table -> parcel-grouped splits -> tensors.

Every split is by parcel: photos of one shoe on both sides of a split would let the model
recognise the shoe instead of judging it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from infer.manifest import read_manifest
from infer.photos import PhotoError, load_photo
from infer.preprocess import letterbox

SPLITS = ("train", "val", "test")
SAME = object()  # PhotoDataset: synthetic rows take the same augmentation as the others


@dataclass
class Source:
    manifest: Path
    weight: float = 1.0
    # (column, "=" or "!=", value): rows kept must match every one.
    filters: tuple = ()
    # "any": its parcels may land in any split; "train" / "val" / "test": that split only.
    role: str = "any"
    # The built-in generated parcels (never mirrored: their mirrored label text is a cue).
    synthetic: bool = False

    @property
    def name(self) -> str:
        return self.manifest.parent.name


def parse_source(entry: str, role: str = "any") -> Source:
    """`path[?column=value&column!=value][:weight]`."""
    rest, _, weight = entry.rpartition(":")
    if rest and weight.replace(".", "", 1).isdigit():
        entry, w = rest, float(weight)
    else:
        w = 1.0
    path, _, query = entry.partition("?")
    filters = []
    for term in filter(None, query.split("&")):
        op = "!=" if "!=" in term else "="
        column, _, value = term.partition(op)
        if not column or op not in term:
            raise ValueError(f"{entry}: filter {term!r} is not column=value or column!=value")
        filters.append((column.strip(), op, value.strip()))
    return Source(Path(path), w, tuple(filters), role)


def _apply_filters(df: pd.DataFrame, src: Source) -> pd.DataFrame:
    for column, op, value in src.filters:
        if column not in df.columns:
            raise ValueError(f"{src.manifest}: filter on column {column!r}, which it does not have")
        match = df[column].astype(str) == value
        df = df[match if op == "=" else ~match]
    if df.empty:
        raise ValueError(f"{src.manifest}: no rows left after filters {list(src.filters)}")
    return df.reset_index(drop=True)


def load_sources(sources: list[Source]) -> pd.DataFrame:
    """One photo table from several manifests; parcel ids are qualified by source."""
    frames = []
    for i, src in enumerate(sources):
        # Missing files are left to the decoder: reported, counted and skipped like broken ones.
        df = _apply_filters(read_manifest(src.manifest, check_files=False, source=f"{i}:{src.name}"), src)
        df["parcel_id"] = df["source"] + "/" + df["parcel_id"]
        # What a split keeps together: the manifest's `group` (one shoe in two parcels, one
        # seller's listings) where given, else the parcel.
        df["split_group"] = df["parcel_id"]
        if "group" in df:
            group = df["group"].fillna("").astype(str).str.strip()
            df["split_group"] = (df["source"] + "/g/" + group).where(group != "", df["parcel_id"])
        df["source_name"] = src.name
        df["source_weight"] = src.weight
        df["role"] = src.role
        df["synthetic"] = src.synthetic
        frames.append(df)
    if not frames:
        raise ValueError("no data sources: enable data.synthetic or list data.manifests")
    return pd.concat(frames, ignore_index=True)


def trains_brand(df: pd.DataFrame, brand_sources: list[str], strict: bool = False) -> pd.Series:
    """Rows whose brand label the brand head learns from (`data.brand_sources`; empty = all).
    `strict`: a name that matches no source of `df` is a config error (checked on the table)."""
    has_brand = df["brand"].fillna("") != ""
    if not brand_sources:
        return has_brand
    unknown = set(brand_sources) - set(df["source_name"])
    if strict and unknown:
        raise ValueError(f"data.brand_sources {sorted(unknown)} match no source "
                         f"(sources: {sorted(set(df['source_name']))})")
    return has_brand & df["source_name"].isin(brand_sources)


def parcel_labels(df: pd.DataFrame) -> pd.Series:
    """A parcel is counterfeit if any of its photos says so; unknown if none is labelled."""
    return df.groupby("parcel_id")["target"].max()


def split_by_parcel(
    df: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int
) -> pd.Series:
    """`split` per photo, stratified by parcel label and source, no parcel in two splits."""
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must be in [0,1) and sum below 1")
    rng = np.random.default_rng(seed)
    parcels = _parcel_strata(df)
    assignment = {}
    for _, group in parcels.groupby("stratum", sort=True):
        ids = np.array(sorted(group.index))
        rng.shuffle(ids)
        n_test = int(round(len(ids) * test_fraction))
        n_val = int(round(len(ids) * val_fraction))
        for j, pid in enumerate(ids):
            assignment[pid] = "test" if j < n_test else "val" if j < n_test + n_val else "train"
    return _unit(df).map(assignment)


def _unit(df: pd.DataFrame) -> pd.Series:
    """What splits and folds deal out: `split_group` (load_sources) or, without it, the parcel."""
    return df["split_group"] if "split_group" in df else df["parcel_id"]


def _parcel_strata(df: pd.DataFrame) -> pd.DataFrame:
    parcels = df.groupby(_unit(df)).agg(source=("source", "first"), target=("target", "max"))
    parcels["stratum"] = parcels["source"] + "|" + parcels["target"].fillna(-1).astype(str)
    return parcels


def assign_folds(df: pd.DataFrame, folds: int, seed: int) -> pd.Series:
    """Fold index (0..folds-1) per photo: parcels dealt round-robin within each source/label
    stratum after a seeded shuffle, so every fold gets its share of each."""
    if folds < 2:
        raise ValueError(f"data.folds must be at least 2 for cross-validation, got {folds}")
    rng = np.random.default_rng(seed)
    fold_of = {}
    offset = 0
    for _, group in _parcel_strata(df).groupby("stratum", sort=True):
        ids = np.array(sorted(group.index))
        rng.shuffle(ids)
        for j, pid in enumerate(ids):
            fold_of[pid] = (j + offset) % folds
        offset += len(ids)  # small strata do not all start at fold 0
    if len(set(fold_of.values())) < folds:
        raise ValueError(f"{len(fold_of)} parcels cannot fill {folds} folds")
    return _unit(df).map(fold_of)


def assign_splits(
    df: pd.DataFrame,
    eval_sources: list[str],
    val_fraction: float,
    test_fraction: float,
    seed: int,
    fold: tuple[pd.Series, int] | None = None,
) -> pd.Series:
    """train/val/test per photo. Test-only and val-only sources -> their split; sources outside
    `eval_sources` (when given) -> train; eval parcels split by fraction, or with
    `fold=(folds, k)` fold k is test and val is carved from the rest."""
    split = pd.Series("train", index=df.index, dtype=object)
    test_only = df["role"] == "test"
    val_only = df["role"] == "val"
    evaluable = df["role"] == "any"
    if eval_sources:
        unknown = set(eval_sources) - set(df["source_name"])
        if unknown:
            raise ValueError(f"data.eval_sources {sorted(unknown)} match no source "
                             f"(sources: {sorted(set(df['source_name']))})")
        evaluable &= df["source_name"].isin(eval_sources)
    part = df[evaluable]
    if fold is None:
        split[evaluable] = split_by_parcel(part, val_fraction, test_fraction, seed)
    else:
        folds, k = fold
        in_test = folds[evaluable] == k
        split[in_test[in_test].index] = "test"
        rest = part[~in_test.to_numpy()]
        split[rest.index] = split_by_parcel(rest, val_fraction, 0.0, seed)
    split[test_only] = "test"
    split[val_only] = "val"
    return split


def thin_training(df: pd.DataFrame, split: pd.Series, fraction: float, seed: int) -> pd.Series:
    """`split` with all but `fraction` of the training units (split groups) of each source/label
    stratum marked "unused". One seeded order per stratum, so a smaller fraction keeps a subset
    of a larger one's listings: points of a learning curve differ only by what was added."""
    if fraction >= 1:
        return split
    train = df[split == "train"]
    rng = np.random.default_rng([seed, 1])  # not the split's own stream
    keep = set()
    for _, group in _parcel_strata(train).groupby("stratum", sort=True):
        ids = np.array(sorted(group.index))
        rng.shuffle(ids)
        keep.update(ids[: max(1, int(round(len(ids) * fraction)))])
    out = split.copy()
    out[(split == "train") & ~_unit(df).isin(keep)] = "unused"
    return out


def photo_targets(df: pd.DataFrame, mode: str) -> pd.Series:
    """What the counterfeit head learns per photo.

    "parcel": every photo carries its parcel's label. "evidence": where a source says which
    defects each photo shows (`visible_defects`, the synthetic sets), a counterfeit parcel's photo
    is positive only if it shows one; a clean side view of a fake that is only given away by its
    label is not evidence, and training it as such is label noise. Sources without that column
    fall back to the parcel label.
    """
    if mode == "parcel":
        return df["target"]
    if mode != "evidence":
        raise ValueError(f"train.photo_targets must be 'parcel' or 'evidence', got {mode!r}")
    shows = df["visible_defects"].fillna("") != ""
    evidence = shows.astype(float).where(df["target"] == 1, df["target"])
    return evidence.where(_annotated(df), df["target"])


def cap_parcels(df: pd.DataFrame, max_parcels: int, seed: int) -> pd.DataFrame:
    if max_parcels <= 0 or df["parcel_id"].nunique() <= max_parcels:
        return df
    rng = np.random.default_rng(seed)
    ids = sorted(df["parcel_id"].unique())
    keep = set(rng.choice(ids, size=max_parcels, replace=False))
    return df[df["parcel_id"].isin(keep)]


def decode_all(paths: list[str], image_size: int, desc: str) -> tuple[np.ndarray, list[str | None]]:
    """Letterboxed uint8 photos, decoded once; unreadable ones are blank and reported."""
    out = np.zeros((len(paths), image_size, image_size, 3), dtype=np.uint8)
    errors: list[str | None] = []
    for i, path in enumerate(tqdm(paths, desc=desc, unit="photo", leave=False)):
        try:
            out[i] = letterbox(load_photo(path, min_size=image_size), image_size)
            errors.append(None)
        except PhotoError as exc:
            errors.append(str(exc))
    return out, errors


def _annotated(df: pd.DataFrame, column: str = "visible_defects") -> pd.Series:
    """Rows of sources that annotate `column` (any non-empty cell in the source): the synthetic
    sets say which defects each photo shows; real photos do not. Within such a source an empty
    cell is an annotation too (no defect shown)."""
    if column not in df:
        return pd.Series(False, index=df.index)
    shows = df[column].where(df[column].notna(), "").astype(str) != ""
    return shows.groupby(df["source"]).transform("any")


class PhotoDataset(Dataset):
    """Decoded photos in memory; augmentation on the fly. Yields uint8 HWC images so the
    normalisation happens once per batch, in the shared `infer.preprocess.normalize`.
    `unmirrored`, if given (None included: no augmentation), replaces `augment` for the rows
    where `df["synthetic"]` is set."""

    def __init__(self, images: np.ndarray, df: pd.DataFrame, brands: list[str], augment=None,
                 unmirrored=SAME):
        self.images = images
        self.augment = augment
        self.unmirrored = unmirrored
        self.synthetic = (df["synthetic"].to_numpy(bool) if "synthetic" in df
                          else np.zeros(len(df), bool))
        target = df["train_target"] if "train_target" in df else df["target"]
        self.target = torch.tensor(target.fillna(-1).to_numpy(), dtype=torch.float32)
        index = {b: i for i, b in enumerate(brands)}
        self.brand = torch.tensor([index.get(b, -1) for b in df["brand"]], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, item):
        """`item`: an index, or (index, seed) from `train.distributed.EpochSampler`: a draw that
        carries its own augmentation seed comes out the same in any worker, on any rank, after
        any resume."""
        i, seed = item if isinstance(item, tuple) else (item, None)
        image = self.images[i]
        augment = self.unmirrored if self.unmirrored is not SAME and self.synthetic[i] else self.augment
        if augment is not None:
            if seed is not None:
                augment.set_random_seed(seed)
            image = augment(image=image)["image"]
        return torch.from_numpy(np.ascontiguousarray(image)), self.target[i], self.brand[i]


def brand_class_weights(df: pd.DataFrame, brands: list[str], draw_weights: np.ndarray | None) -> torch.Tensor:
    """Per-brand loss weights that give every brand the same share of the brand loss under the
    sampler's draws (`draw_weights`, None = uniform). Without them a brand that makes up most
    brand-labelled draws (nike: every aj1 listing) becomes the answer for whatever those
    photos look like (street photos). Brands never drawn keep weight 1."""
    w = np.ones(len(df)) if draw_weights is None else np.asarray(draw_weights, float)
    index = {b: i for i, b in enumerate(brands)}
    mass = np.zeros(len(brands))
    for b, wi in zip(df["brand"], w, strict=True):
        if b in index:
            mass[index[b]] += wi
    drawn = mass > 0
    out = np.ones(len(brands))
    out[drawn] = mass[drawn].sum() / (drawn.sum() * mass[drawn])
    return torch.tensor(out, dtype=torch.float32)


def sample_weights(df: pd.DataFrame) -> torch.Tensor:
    """Per-photo sampling weight giving each source its configured share of the draws."""
    photos_in_source = df.groupby("source")["path"].transform("count").to_numpy(float)
    w = df["source_weight"].to_numpy(float) / photos_in_source
    return torch.tensor(w / w.sum(), dtype=torch.double)
