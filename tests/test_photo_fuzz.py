"""Property-based fuzzing of `infer.photos.load_photo`: whatever bytes arrive, the result is an
8-bit RGB image of at least 8x8 pixels or a PhotoError naming the photo and the reason.

Inputs: random bytes, random bytes behind real format signatures, real JPEG/PNG/GIF files cut
at random offsets, and real files with random bit flips. tests/test_photos.py covers the fixed
cases (empty, 1x1, huge header, CMYK, 16-bit, transparency, EXIF rotation, animation).

Derandomized, so CI sees the same inputs every run. For a deeper local hunt, multiply the
number of examples: `PHOTO_FUZZ_SCALE=50 pytest tests/test_photo_fuzz.py`.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from infer.photos import PhotoError, load_photo

# Pillow warns, then carries on, on EXIF it cannot parse; that is the behaviour under test.
pytestmark = pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")

SCALE = max(1, int(os.environ.get("PHOTO_FUZZ_SCALE", "1")))
# ~200 examples in all; each example is decoded four ways (bytes/path x min_size).
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _card(width: int, height: int) -> Image.Image:
    """Smooth gradient with a block: small files, so flips and cuts land in the structure."""
    y, x = np.mgrid[0:height, 0:width]
    arr = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=-1).astype(np.uint8)
    arr[: height // 3, : width // 3] = (255, 0, 0)
    return Image.fromarray(arr, "RGB")


def _seeds() -> dict[str, bytes]:
    card = _card(160, 120)  # drafted at 1/2 with min_size=64
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: exercises exif_transpose on corrupt EXIF too
    palette = card.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    frames = [card.resize((48, 40)), card.resize((48, 40)).transpose(Image.Transpose.ROTATE_180)]
    anim = io.BytesIO()
    frames[0].save(anim, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return {
        "jpeg": _encode(card, "JPEG", quality=70),
        "jpeg-exif": _encode(card, "JPEG", quality=70, exif=exif),
        "jpeg-progressive": _encode(card, "JPEG", quality=70, progressive=True),
        "png": _encode(card.resize((40, 30)), "PNG"),
        "png-palette-transparency": _encode(palette.resize((40, 30)), "PNG", transparency=0),
        "png-16bit": _encode(Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30) * 100), "PNG"),
        "gif": anim.getvalue(),
    }


SEEDS = _seeds()
SEED_NAMES = sorted(SEEDS)
# Where the GIF's second frame begins (its graphic control extension).
SECOND_GIF_FRAME = SEEDS["gif"].find(b"!\xf9\x04", SEEDS["gif"].find(b"!\xf9\x04") + 1)

# Magic numbers Pillow dispatches on: random bytes behind them reach each plugin's parser.
HEADERS = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    b"\xff\xd8\xff\xe1",  # EXIF APP1
    b"\x89PNG\r\n\x1a\n",
    SEEDS["png"][:33],  # signature + a valid IHDR
    b"GIF87a",
    b"GIF89a",
    SEEDS["gif"][:13],  # header + logical screen descriptor
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"\x00\x00\x01\x00",  # ICO
    b"8BPS",  # PSD
]


def check(data: bytes, label: str) -> None:
    """The property, for bytes and for a file, with and without JPEG draft decoding."""
    for min_size in (None, 64):
        _check_one(data, f"fuzz-{label}.bin", min_size, name_given=True)
    if data:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"fuzz-{label}.img"
            path.write_bytes(data)
            for min_size in (None, 64):
                _check_one(path, str(path), min_size, name_given=False)


def _check_one(source, name: str, min_size: int | None, name_given: bool) -> None:
    try:
        img = load_photo(source, name=name if name_given else None, min_size=min_size)
    except PhotoError as exc:
        assert exc.name == name
        assert str(exc).startswith(f"{name}: ")
        assert exc.reason.strip(), f"no reason in {exc!r}"
        return
    # Anything else escaping fails the test with the input hypothesis shrank to.
    assert isinstance(img, Image.Image)
    assert img.mode == "RGB"
    assert min(img.size) >= 8, img.size
    arr = np.asarray(img)
    assert arr.dtype == np.uint8 and arr.shape == (img.size[1], img.size[0], 3)
    # Upright: a readable EXIF rotation has been applied and dropped. (Pillow can carry EXIF it
    # could not parse into the copy, where getexif() then raises; no rotation was readable.)
    try:
        orientation = img.getexif().get(0x0112, 1)
    except (SyntaxError, ValueError, OSError):
        orientation = 1
    assert orientation not in range(2, 9)


def test_seeds_decode():
    """The seed files themselves are valid photos (otherwise flips and cuts test nothing)."""
    for name, data in SEEDS.items():
        img = load_photo(data, name=name)
        assert img.mode == "RGB" and min(img.size) >= 8


@settings(FUZZ, max_examples=30 * SCALE)
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check(data, "random")


@settings(FUZZ, max_examples=50 * SCALE)
@given(st.sampled_from(HEADERS), st.binary(max_size=2048))
def test_random_bytes_behind_real_header(header, tail):
    check(header + tail, "header")


@settings(FUZZ, max_examples=50 * SCALE)
@given(st.sampled_from(SEED_NAMES), st.integers(min_value=0, max_value=2**31))
# Regressions: a GIF cut inside its second frame's header made `is_animated` raise IndexError
# and struct.error out of load_photo.
@example("gif", SECOND_GIF_FRAME + 1)
@example("gif", SECOND_GIF_FRAME + 9)
def test_truncated_files(seed, cut):
    data = SEEDS[seed]
    check(data[: cut % len(data)], f"{seed}-cut")


@settings(FUZZ, max_examples=70 * SCALE)
@given(
    st.sampled_from(SEED_NAMES),
    st.lists(st.integers(min_value=0, max_value=2**31), min_size=1, max_size=8),
)
# Regression: IHDR length 13 -> 12 made Image.open raise ValueError("Truncated IHDR chunk").
@example("png", [11 * 8])
def test_bit_flips(seed, positions):
    data = bytearray(SEEDS[seed])
    for pos in positions:
        bit = pos % (len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
    check(bytes(data), f"{seed}-flip")


@pytest.mark.parametrize("seed", SEED_NAMES)
def test_valid_prefix_then_garbage(seed):
    """A complete header followed by noise in place of the image data."""
    data = SEEDS[seed]
    rng = np.random.default_rng(0)
    for keep in (len(data) // 8, len(data) // 4, len(data) // 2):
        check(data[:keep] + rng.integers(0, 256, len(data) - keep, dtype=np.uint8).tobytes(), seed)
