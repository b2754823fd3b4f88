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


@dataclass
class Source:
    manifest: Path
    weight: float = 1.0


def parse_source(entry: str) -> Source:
    """`path` or `path:weight`."""
    path, _, weight = entry.rpartition(":")
    if path and weight.replace(".", "", 1).isdigit():
        return Source(Path(path), float(weight))
    return Source(Path(entry), 1.0)


def load_sources(sources: list[Source]) -> pd.DataFrame:
    """One photo table from several manifests; parcel ids are qualified by source."""
    frames = []
    for i, src in enumerate(sources):
        df = read_manifest(src.manifest, source=f"{i}:{src.manifest.parent.name}")
        df["parcel_id"] = df["source"] + "/" + df["parcel_id"]
        df["source_weight"] = src.weight
        frames.append(df)
    if not frames:
        raise ValueError("no data sources: enable data.synthetic or list data.manifests")
    return pd.concat(frames, ignore_index=True)


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
    parcels = df.groupby("parcel_id").agg(source=("source", "first"), target=("target", "max"))
    parcels["stratum"] = parcels["source"] + "|" + parcels["target"].fillna(-1).astype(str)
    assignment = {}
    for _, group in parcels.groupby("stratum", sort=True):
        ids = np.array(sorted(group.index))
        rng.shuffle(ids)
        n_test = int(round(len(ids) * test_fraction))
        n_val = int(round(len(ids) * val_fraction))
        for j, pid in enumerate(ids):
            assignment[pid] = "test" if j < n_test else "val" if j < n_test + n_val else "train"
    return df["parcel_id"].map(assignment)


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
    annotated = shows.groupby(df["source"]).transform("any")
    evidence = shows.astype(float).where(df["target"] == 1, df["target"])
    return evidence.where(annotated, df["target"])


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


class PhotoDataset(Dataset):
    """Decoded photos in memory; augmentation on the fly. Yields uint8 HWC images so the
    normalisation happens once per batch, in the shared `infer.preprocess.normalize`."""

    def __init__(self, images: np.ndarray, df: pd.DataFrame, brands: list[str], augment=None):
        self.images = images
        self.augment = augment
        target = df["train_target"] if "train_target" in df else df["target"]
        self.target = torch.tensor(target.fillna(-1).to_numpy(), dtype=torch.float32)
        index = {b: i for i, b in enumerate(brands)}
        self.brand = torch.tensor([index.get(b, -1) for b in df["brand"]], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image = self.images[i]
        if self.augment is not None:
            image = self.augment(image=image)["image"]
        return torch.from_numpy(np.ascontiguousarray(image)), self.target[i], self.brand[i]


def sample_weights(df: pd.DataFrame) -> torch.Tensor:
    """Per-photo sampling weight giving each source its configured share of the draws."""
    photos_in_source = df.groupby("source")["path"].transform("count").to_numpy(float)
    w = df["source_weight"].to_numpy(float) / photos_in_source
    return torch.tensor(w / w.sum(), dtype=torch.double)
