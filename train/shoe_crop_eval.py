"""Test outputs as a `shoe_crop` model is served: the brand read from the whole photo and from a
crop around the shoe (infer/shoe_crop.py), through the same code the Inspector runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from infer.model import predict_arrays
from infer.photos import PhotoError, load_photo
from infer.shoe_crop import CROP_DECODE_FACTOR, shoe_crops, with_crops
from infer.spec import softmax

CHUNK = 128  # photos decoded at crop resolution at once (a few MB each)


def brand_logits_with_shoe_crop(net, df: pd.DataFrame, brand_logits: np.ndarray, brand_temp: float,
                                batch_size: int = 64) -> tuple[np.ndarray, int]:
    """Brand logits whose tempered softmax is the mean of the whole photo's and its crop's, as
    `Inspector.score_photos` computes them (rows without a crop keep their logits); and how many
    photos got a crop. `df` rows align with `brand_logits`; unreadable rows are left alone."""
    spec = net.spec
    out = np.array(brand_logits, dtype=np.float64, copy=True)
    rows = np.flatnonzero(df["readable"].to_numpy())
    paths = df["path"].to_numpy()
    cropped = 0
    for start in tqdm(range(0, len(rows), CHUNK), desc="test: shoe crops", unit="chunk", leave=False):
        chunk = rows[start : start + CHUNK]
        images, kept = [], []
        for i in chunk:
            try:
                images.append(load_photo(paths[i], min_size=CROP_DECODE_FACTOR * spec.image_size))
                kept.append(i)
            except PhotoError:
                continue  # readable at input size, so not expected; the whole photo's logits stay
        crops, index = shoe_crops(images, spec.image_size, spec.image_size)
        if not index:
            continue
        crop_logits = predict_arrays(net, crops, batch_size)[1]
        kept = np.asarray(kept)
        mean = with_crops(softmax(out[kept], brand_temp), softmax(crop_logits, brand_temp), index)
        # Logits whose tempered softmax is that mean: what calibration and scoring read.
        out[kept[index]] = brand_temp * np.log(np.clip(mean[index], 1e-300, None))
        cropped += len(index)
    return out, cropped
