"""Decode a parcel photo into an RGB image, or say precisely why it cannot be used.

Phones, scanners and web exports hand us EXIF-rotated JPEGs, CMYK, 16-bit PNGs, palettes with
transparency, animated GIFs, truncated uploads and files that are not images at all. Every one
either becomes an upright 8-bit RGB image or a PhotoError naming the file and the problem.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_MEGAPIXELS = 50
PhotoSource = Union[str, Path, bytes, bytearray, Image.Image]  # noqa: UP007 (runtime alias, py3.10)
# Pillow's format plugins report malformed data with whatever their parsing code happens to raise
# (a short struct.unpack, an index past a truncated buffer, a missing table key), not only
# OSError; all of them mean the bytes are not a usable image. Found by tests/test_photo_fuzz.py.
_MALFORMED = (
    ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, ArithmeticError, struct.error
)


class PhotoError(ValueError):
    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def describe(source: PhotoSource, index: int | None = None) -> str:
    if isinstance(source, str | Path):
        return str(source)
    kind = "bytes" if isinstance(source, bytes | bytearray) else "image"
    return f"<{kind} #{index}>" if index is not None else f"<{kind}>"


def _open(source: PhotoSource, name: str) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        if not data:
            raise PhotoError(name, "empty data (0 bytes)")
        stream: io.BytesIO | Path = io.BytesIO(data)
    else:
        stream = Path(source)
        if not stream.exists():
            raise PhotoError(name, "file not found")
        if not stream.is_file():
            raise PhotoError(name, "not a regular file")
        if stream.stat().st_size == 0:
            raise PhotoError(name, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Our own megapixel limit below gives the clearer message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(stream)
    except UnidentifiedImageError as exc:
        raise PhotoError(name, "not an image (unrecognised or corrupt format)") from exc
    except Image.DecompressionBombError as exc:
        raise PhotoError(name, f"image too large (over {MAX_MEGAPIXELS} megapixels)") from exc
    except OSError as exc:
        raise PhotoError(name, f"cannot read file: {exc}") from exc
    except _MALFORMED as exc:
        raise PhotoError(name, _corrupt(exc)) from exc


def _corrupt(exc: BaseException) -> str:
    return f"corrupt or truncated image data ({exc or type(exc).__name__})"


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit/float greyscale: scale the real range to 8 bit (a plain convert clips to white).
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Product shots with transparency sit on white, as they are displayed.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode != "RGB":
        return img.convert("RGB")
    return img


def load_photo(
    source: PhotoSource, name: str | None = None, min_size: int | None = None
) -> Image.Image:
    """Upright 8-bit RGB image from a path, bytes or PIL image.

    `min_size`: when set, a JPEG may be decoded at 1/2, 1/4 or 1/8 scale as long as its shorter
    side stays at least this large (the model input is far smaller than a phone photo).
    """
    name = name or describe(source)
    img = _open(source, name)
    width, height = img.size
    if width <= 0 or height <= 0:
        raise PhotoError(name, f"invalid image size {width}x{height}")
    if width * height > MAX_MEGAPIXELS * 1_000_000:
        raise PhotoError(
            name,
            f"image too large: {width}x{height} = {width * height / 1e6:.1f} megapixels "
            f"(limit {MAX_MEGAPIXELS})",
        )
    try:
        # Inside the try: `is_animated` parses the second frame's header, which can be corrupt.
        if getattr(img, "is_animated", False):
            img.seek(0)
        if min_size and img.format == "JPEG":
            # Draft keeps both sides >= the request; EXIF rotation later only swaps them.
            # Integer ceiling: float `width * min_size / short` can land just under the exact
            # value and truncate to min_size - 1 (1592x1592, min_size=200 decoded at 199x199).
            short = min(width, height)
            request = (-(-width * min_size // short), -(-height * min_size // short))
            img.draft("RGB", request)
        img.load()
        img = ImageOps.exif_transpose(img)
        rgb = _to_rgb(img)
    except PhotoError:
        raise
    except (OSError, Image.DecompressionBombError, *_MALFORMED) as exc:
        raise PhotoError(name, _corrupt(exc)) from exc
    if min(rgb.size) < 8:
        raise PhotoError(name, f"image too small to inspect ({rgb.size[0]}x{rgb.size[1]} pixels)")
    return rgb
