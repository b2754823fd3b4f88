"""Helpers of the case-queue tests: a review queue filled from a simulated day's parcel records,
through the Python enqueue path, with tiny photos and made-up verdicts (no model needed)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from PIL import Image

from infer.review import ReviewQueue, enqueue
from infer.review.records import check_records

TRUTH = ["label", "seller_id", "brand", "model"]


def tiny_photo(seed: int) -> Image.Image:
    """A 32×24 photo of noise: small, readable, and different for every parcel."""
    pixels = np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def verdict_for(parcel_id: str, probability: float, style_code=None, made_in=None,
                why: str = "review") -> dict:
    """A verdict as the inspector writes it, one photo, with the label it read (if any)."""
    lines = [text for text in (made_in and made_in.upper(), style_code) if text]
    labels = [{"photo": 0, "path": "tag.jpg", "size": [32, 24], "reason": None,
               "lines": [{"text": t, "box": [[0, 0], [8, 0], [8, 4], [0, 4]], "confidence": 0.99}
                         for t in lines],
               "fields": {"style_code": style_code, "made_in": made_in}}] if lines else []
    return {"parcel_id": parcel_id, "verdict": "review" if why == "review" else "genuine",
            "counterfeit_probability": probability, "brand": "nike", "brand_probability": 0.9,
            "reasons": ["counterfeit_probability_in_band"] if why == "review" else [],
            "photos": [{"path": "tag.jpg", "counterfeit_probability": probability, "brand": "nike",
                        "brand_probability": 0.9}],
            "model": {"name": "counterfeit-inspector", "version": "3", "run_id": "run-a"},
            "brands": ["nike", "adidas"], "labels": labels, "label_checks": []}


def fill_queue(db, day: pd.DataFrame, seed: int = 0, why=None) -> ReviewQueue:
    """Queue every parcel of `day` with its record; counterfeit parcels score high, genuine low,
    with noise. `why(parcel_id)` may send some to 'audit' instead of 'review'."""
    rng = np.random.default_rng(seed)
    queue = ReviewQueue(db)
    # Checked in one pass (the enqueue path would check each parcel's record again on its own).
    records = check_records(day)
    for i, row in enumerate(day.itertuples(index=False)):
        row = row._asdict()
        centre = 0.8 if row.get("label") == "counterfeit" else 0.3
        p = float(np.clip(centre + rng.normal(0, 0.1), 0.01, 0.99))
        reason = why(row["parcel_id"]) if why else "review"
        verdict = verdict_for(row["parcel_id"], p, _text(row.get("style_code")),
                              _text(row.get("made_in")), reason)
        enqueue(queue, verdict, [tiny_photo(i)], audit_share=1.0, rng=random.Random(0),
                record=records[row["parcel_id"]])
    return queue


def _text(value):
    return value if isinstance(value, str) and value else None
