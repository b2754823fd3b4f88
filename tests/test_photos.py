"""`infer.photos.load_photo` on every bad or odd input, and `infer.preprocess.letterbox`.

Every input is built in tmp_path with Pillow/numpy: no committed image files.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from infer.photos import MAX_MEGAPIXELS, PhotoError, load_photo
from infer.preprocess import PAD_VALUE, letterbox

RED, BLUE, GREEN, WHITE = (255, 0, 0), (0, 0, 255), (0, 255, 0), (255, 255, 255)


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def assert_close(pixel, expected, tol: int = 12) -> None:
    assert np.all(np.abs(np.asarray(pixel, dtype=int) - np.asarray(expected)) <= tol), (
        f"pixel {tuple(pixel)} != {expected}"
    )


def expect_error(source, *fragments: str, name: str | None = None) -> PhotoError:
    """load_photo fails with a PhotoError naming the file (for paths) and the problem."""
    with pytest.raises(PhotoError) as info:
        load_photo(source)
    message = str(info.value)
    expected_name = name or (str(source) if isinstance(source, str | Path) else None)
    if expected_name is not None:
        assert expected_name in message
        assert info.value.name == expected_name
    for fragment in fragments:
        assert fragment.lower() in message.lower(), f"{fragment!r} not in {message!r}"
    return info.value


def patch_png_size(png: bytes, width: int, height: int) -> bytes:
    """Rewrite the IHDR of a small PNG to claim another size (with a valid CRC)."""
    assert png[12:16] == b"IHDR"
    body = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png[8:12] + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + png[33:]


# --- unusable inputs ------------------------------------------------------------------------


def test_zero_byte_file(tmp_path):
    expect_error(write(tmp_path / "empty.jpg", b""), "empty", "0 bytes")


def test_empty_bytes():
    expect_error(b"", "empty", name="<bytes>")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("these are not the pixels you are looking for\n" * 10)
    expect_error(path, "not an image")


def test_random_bytes(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    expect_error(write(tmp_path / "random.png", data), "not an image")


def test_random_bytes_input():
    data = np.random.default_rng(2).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    expect_error(data, "not an image", name="<bytes>")


def test_truncated_jpeg(tmp_path):
    data = encode(noise(96, 64), "JPEG", quality=90)
    path = write(tmp_path / "cut.jpg", data[: len(data) // 2])
    expect_error(path, "truncated")


def test_truncated_png(tmp_path):
    data = encode(noise(96, 64), "PNG")
    path = write(tmp_path / "cut.png", data[: len(data) // 2])
    expect_error(path, "truncated")


def test_png_cut_inside_header(tmp_path):
    # Signature and part of IHDR only: nothing decodable at all.
    data = encode(noise(16, 16), "PNG")
    with pytest.raises(PhotoError) as info:
        load_photo(write(tmp_path / "stub.png", data[:20]))
    assert str(tmp_path / "stub.png") in str(info.value)


def test_nonexistent_path(tmp_path):
    expect_error(tmp_path / "nowhere" / "shoe.jpg", "not found")


def test_nonexistent_str_path(tmp_path):
    expect_error(str(tmp_path / "missing.jpg"), "not found")


def test_directory(tmp_path):
    folder = tmp_path / "photos.jpg"
    folder.mkdir()
    expect_error(folder, "not a regular file")


@pytest.mark.parametrize("side", [30_000, 8_000])
def test_oversized_header_is_refused_fast(tmp_path, side):
    # 30000^2 trips Pillow's own bomb check in Image.open; 8000^2 (64 MP) only ours.
    assert side * side > MAX_MEGAPIXELS * 1_000_000
    png = patch_png_size(encode(Image.new("RGB", (16, 16), RED), "PNG"), side, side)
    path = write(tmp_path / "huge.png", png)
    # The patched header is well-formed (checksum included) and claims the size.
    assert struct.unpack(">II", png[16:24]) == (side, side)
    assert zlib.crc32(png[12:29]) & 0xFFFFFFFF == struct.unpack(">I", png[29:33])[0]
    start = time.perf_counter()
    err = expect_error(path, "megapixels", "too large")
    assert time.perf_counter() - start < 1.0
    assert str(MAX_MEGAPIXELS) in err.reason


def test_just_under_limit_is_not_refused_for_size(tmp_path):
    # 7000x7000 = 49 MP: passes the size check, then fails on the missing pixel data instead.
    png = patch_png_size(encode(Image.new("RGB", (16, 16), RED), "PNG"), 7000, 7000)
    with pytest.raises(PhotoError) as info:
        load_photo(write(tmp_path / "big.png", png))
    assert "megapixels" not in str(info.value)


def test_one_pixel_image(tmp_path):
    path = write(tmp_path / "dot.png", encode(Image.new("RGB", (1, 1), RED), "PNG"))
    expect_error(path, "too small", "1x1")


def test_thin_strip_is_too_small(tmp_path):
    path = write(tmp_path / "strip.png", encode(Image.new("RGB", (400, 3), RED), "PNG"))
    expect_error(path, "too small", "400x3")


# --- odd but usable inputs -------------------------------------------------------------------


def upright_test_card(width: int = 64, height: int = 32) -> Image.Image:
    """Blue card with the top-left quadrant red: any rotation or flip moves the red."""
    card = Image.new("RGB", (width, height), BLUE)
    card.paste(RED, (0, 0, width // 2, height // 2))
    return card


def check_upright_card(img: Image.Image, width: int = 64, height: int = 32) -> None:
    assert img.mode == "RGB"
    assert img.size == (width, height)
    px = np.asarray(img)
    assert_close(px[height // 4, width // 4], RED, tol=30)  # top-left
    assert_close(px[height // 4, 3 * width // 4], BLUE, tol=30)  # top-right
    assert_close(px[3 * height // 4, width // 4], BLUE, tol=30)  # bottom-left
    assert_close(px[3 * height // 4, 3 * width // 4], BLUE, tol=30)  # bottom-right


@pytest.mark.parametrize(
    "orientation, stored_from_upright",
    [
        # 6: the camera stored the scene rotated 90 degrees counter-clockwise.
        (6, Image.Transpose.ROTATE_90),
        # 8: stored rotated 90 degrees clockwise.
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_rotated_jpeg_comes_back_upright(tmp_path, orientation, stored_from_upright):
    stored = upright_test_card().transpose(stored_from_upright)
    assert stored.size == (32, 64)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = write(tmp_path / f"rot{orientation}.jpg", encode(stored, "JPEG", quality=95, exif=exif))
    with Image.open(path) as raw:
        assert raw.size == (32, 64)  # the file really is portrait
    check_upright_card(load_photo(path))


def test_exif_rotation_with_min_size(tmp_path):
    stored = upright_test_card(640, 320).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write(tmp_path / "rot.jpg", encode(stored, "JPEG", quality=95, exif=exif))
    img = load_photo(path, min_size=80)
    assert img.size == (160, 80)  # drafted at 1/4, then swapped upright
    check_upright_card(img, 160, 80)


def test_grayscale_l(tmp_path):
    gray = Image.fromarray(np.full((24, 40), 77, dtype=np.uint8), "L")
    img = load_photo(write(tmp_path / "gray.png", encode(gray, "PNG")))
    assert img.mode == "RGB" and img.size == (40, 24)
    assert np.all(np.asarray(img) == 77)


def test_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (40, 24), (0, 255, 255, 0))  # pure red in CMYK
    path = write(tmp_path / "cmyk.jpg", encode(cmyk, "JPEG", quality=95))
    with Image.open(path) as raw:
        assert raw.mode == "CMYK"
    img = load_photo(path)
    assert img.mode == "RGB" and img.size == (40, 24)
    assert_close(np.asarray(img)[12, 20], RED, tol=20)


def test_rgba_transparent_area_is_white(tmp_path):
    arr = np.zeros((20, 40, 4), dtype=np.uint8)  # left half: transparent black
    arr[:, 20:] = (0, 0, 255, 255)  # right half: opaque blue
    path = write(tmp_path / "cutout.png", encode(Image.fromarray(arr, "RGBA"), "PNG"))
    img = load_photo(path)
    assert img.mode == "RGB"
    px = np.asarray(img)
    assert np.all(px[:, :20] == WHITE)
    assert np.all(px[:, 20:] == BLUE)


def test_rgba_half_transparent_blends_on_white(tmp_path):
    arr = np.zeros((10, 10, 4), dtype=np.uint8)
    arr[...] = (0, 0, 0, 128)
    img = load_photo(write(tmp_path / "half.png", encode(Image.fromarray(arr, "RGBA"), "PNG")))
    assert_close(np.asarray(img)[5, 5], (127, 127, 127), tol=2)


def test_la_transparent_area_is_white(tmp_path):
    arr = np.zeros((16, 16, 2), dtype=np.uint8)
    arr[:, 8:] = (50, 255)
    img = load_photo(write(tmp_path / "la.png", encode(Image.fromarray(arr, "LA"), "PNG")))
    px = np.asarray(img)
    assert np.all(px[:, :8] == WHITE)
    assert np.all(px[:, 8:] == 50)


def test_palette_png_with_transparency(tmp_path):
    pal = Image.new("P", (40, 20), 0)
    # Index 0 is black but transparent; a plain convert("RGB") would show it black.
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    pal.paste(1, (20, 0, 40, 20))
    path = write(tmp_path / "pal.png", encode(pal, "PNG", transparency=0))
    with Image.open(path) as raw:
        assert raw.mode == "P" and "transparency" in raw.info
    px = np.asarray(load_photo(path))
    assert np.all(px[:, :20] == WHITE)
    assert np.all(px[:, 20:] == RED)


def test_palette_png_without_transparency(tmp_path):
    pal = Image.new("P", (16, 16), 1)
    pal.putpalette([0, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    px = np.asarray(load_photo(write(tmp_path / "pal.png", encode(pal, "PNG"))))
    assert np.all(px == GREEN)


def test_16bit_grayscale_png_is_scaled_not_clipped(tmp_path):
    arr = np.full((20, 30), 32768, dtype=np.uint16)
    arr[:, 15:] = 65535
    path = write(tmp_path / "sixteen.png", encode(Image.fromarray(arr), "PNG"))
    with Image.open(path) as raw:
        assert raw.mode.startswith("I")
    img = load_photo(path)
    assert img.mode == "RGB" and img.size == (30, 20)
    px = np.asarray(img).astype(int)
    assert np.all(np.abs(px[:, :15] - 128) <= 2)  # mid-range stays mid-grey, not 255
    assert np.all(px[:, 15:] == 255)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 24), c) for c in (RED, GREEN, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as raw:
        assert raw.is_animated and raw.n_frames == 3
        raw.seek(2)  # even a source left on a later frame would not matter for a path
    img = load_photo(path)
    assert img.mode == "RGB" and img.size == (32, 24)
    assert np.all(np.asarray(img) == RED)


def test_pil_image_left_on_later_frame_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 24), c) for c in (RED, GREEN, BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(path) as raw:
        raw.seek(2)
        img = load_photo(raw)
    assert np.all(np.asarray(img) == RED)


def test_bytes_input():
    data = encode(upright_test_card(), "PNG")
    check_upright_card(load_photo(data))
    check_upright_card(load_photo(bytearray(data)))


def test_bytes_error_uses_given_name():
    with pytest.raises(PhotoError) as info:
        load_photo(b"GIF89a-not-really", name="upload-7.gif")
    assert str(info.value).startswith("upload-7.gif: ")


def test_pil_input():
    check_upright_card(load_photo(upright_test_card()))
    gray = Image.fromarray(np.full((12, 12), 200, dtype=np.uint8), "L")
    out = load_photo(gray)
    assert out.mode == "RGB" and np.all(np.asarray(out) == 200)


def test_pil_input_too_small_names_image():
    expect_error(Image.new("RGB", (1, 1)), "too small", name="<image>")


def test_min_size_drafts_large_jpeg(tmp_path):
    path = write(tmp_path / "phone.jpg", encode(noise(2000, 1500), "JPEG", quality=80))
    full = load_photo(path)
    assert full.size == (2000, 1500)
    img = load_photo(path, min_size=200)
    assert img.mode == "RGB"
    assert min(img.size) >= 200
    assert min(img.size) < 1500
    assert img.size == (500, 375)  # 1/4 scale: 1/8 would be 188 < 200
    assert abs(img.size[0] / img.size[1] - 2000 / 1500) < 0.01


@pytest.mark.parametrize("size", [(1592, 1592), (1600, 1600)])
def test_min_size_never_undershoots(tmp_path, size):
    # 1592 * (200 / 1592) is 199.999... in floating point: the shorter side must still be >= 200.
    path = write(tmp_path / "sq.jpg", encode(Image.new("RGB", size, RED), "JPEG"))
    img = load_photo(path, min_size=200)
    assert 200 <= min(img.size) < min(size)


def test_min_size_ignored_for_png(tmp_path):
    path = write(tmp_path / "big.png", encode(Image.new("RGB", (400, 300), RED), "PNG"))
    assert load_photo(path, min_size=50).size == (400, 300)


# --- letterbox ------------------------------------------------------------------------------


def test_letterbox_wide_image_pads_top_and_bottom():
    img = Image.new("RGB", (200, 100), RED)
    out = letterbox(img, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    # 200x100 -> 64x32, centred: rows 0-15 and 48-63 are padding.
    assert np.all(out[:16] == PAD_VALUE)
    assert np.all(out[48:] == PAD_VALUE)
    assert np.all(out[16:48] == RED)
    # No padding left or right: the whole width is photo.
    assert np.all(out[32, :] == RED)


def test_letterbox_tall_image_pads_left_and_right():
    img = Image.new("RGB", (50, 100), BLUE)
    out = letterbox(img, 32)
    assert out.shape == (32, 32, 3)
    assert np.all(out[:, :8] == PAD_VALUE)
    assert np.all(out[:, 24:] == PAD_VALUE)
    assert np.all(out[:, 8:24] == BLUE)


def test_letterbox_keeps_aspect_of_content():
    img = Image.new("RGB", (300, 120), GREEN)
    out = letterbox(img, 100)
    green = np.all(out == GREEN, axis=2)
    rows, cols = np.where(green.any(axis=1))[0], np.where(green.any(axis=0))[0]
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert width == 100
    assert abs(height - 40) <= 1


def test_letterbox_square_and_upscale():
    out = letterbox(Image.new("RGB", (10, 10), RED), 48)
    assert out.shape == (48, 48, 3)
    assert np.all(out == RED)  # square: no padding at all, even when enlarging


def test_letterbox_keeps_orientation():
    out = letterbox(upright_test_card(64, 32), 64)
    assert_close(out[20, 10], RED, tol=5)  # top-left of the content band
    assert_close(out[40, 54], BLUE, tol=5)
