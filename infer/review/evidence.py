"""Copies of the photos a reviewer looks at, kept inside the queue database.

The inspection app may delete or move its files once a parcel is processed, so the queue stores
a downscaled JPEG of each photo rather than its path: evidence must outlive the originals.
"""

from __future__ import annotations

import io

from PIL import Image

from infer.photos import PhotoError, PhotoSource, load_photo

MAX_SIDE = 2048  # a "made in" line stays legible when the reviewer zooms in
JPEG_QUALITY = 90


def to_jpeg(img: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def evidence_copy(source: PhotoSource, name: str, max_side: int = MAX_SIDE) -> bytes | None:
    """JPEG bytes of the photo, longest side at most `max_side`; None if it cannot be read
    (the verdict already records why)."""
    try:
        img = load_photo(source, name=name)
    except PhotoError:
        return None
    img = img.copy()
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return to_jpeg(img)
