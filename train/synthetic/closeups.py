"""Close-up views: the mark, a stitched seam, the tongue's size tag and the box sticker.

Close-ups fill the frame at a large scale so the details a counterfeit gets wrong (stitch
regularity, mark proportions, label text) span many pixels even at 224 px.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from . import labels, marks, stitches
from .raster import (
    Affine,
    blur,
    catmull_rom,
    font,
    grid,
    mask_of,
    mix,
    offset,
    over,
    over_image,
    plane_wave,
    poly_xy,
    shade,
    value_noise,
)
from .wear import dust


def _material(rng, size: int, colour, cells: float, depth: float) -> np.ndarray:
    """A flat colour with leather-like grain and a broad, soft light falloff."""
    grain = value_noise(rng, size, size, cells, octaves=2)
    broad = value_noise(rng, size, size, 2.5)
    f = (1 + depth * (grain - 0.5)) * (0.9 + 0.16 * broad)
    return np.asarray(colour, np.float32)[None, None] * f[..., None]


def render_logo(p, rng: np.random.Generator, size: int):
    col, brand = p.colours, p.brand
    img = _material(rng, size, col["upper"], size / 10, 0.12)
    s = size * rng.uniform(0.55, 0.72) * p.mark_pose[3]
    centre = np.array([size / 2, size / 2]) + rng.normal(0, 0.05 * size, 2)
    tf = Affine(s, p.mark_pose[2] * 3 + rng.normal(0, 4), centre, flip_x=bool(rng.random() < 0.5))
    m = mask_of(size, marks.shapes(brand.mark, p.mark_geom), tf)
    # Applied material: a soft shadow below the mark and a darker cut edge.
    sh = np.roll(blur(m, size * 0.006), (int(size * 0.006), int(size * 0.004)), axis=(0, 1))
    img = img * (1 - 0.28 * np.clip(sh - m, 0, 1))[..., None]
    mark_img = _material(rng, size, p.mark_colour, size / 14, 0.07)
    img = over_image(img, mark_img, m)
    k = max(3, int(size * 0.008)) | 1
    edge = np.clip(m - cv2.erode(m, np.ones((k, k), np.float32)), 0, 1)
    img = over(img, shade(p.mark_colour, 0.7), edge * 0.55)
    img = _crease(img, rng, size, col["upper"])
    alpha = np.ones((size, size), np.float32)
    return np.clip(dust(img, alpha, rng, p.dust * 0.5, size), 0, 255), alpha


def _crease(img, rng, size, colour):
    if rng.random() < 0.4:
        return img
    layer = Image.new("L", (size, size), 0)
    a, b = rng.uniform(0, size, 2), rng.uniform(0, size, 2)
    mid = (a + b) / 2 + rng.normal(0, size * 0.1, 2)
    pts = catmull_rom([a, mid, b], 12)
    ImageDraw.Draw(layer).line(poly_xy(pts), fill=255, width=max(1, size // 90))
    m = blur(np.asarray(layer, np.float32) / 255, size * 0.006)
    return over(img, shade(colour, 0.55), m * rng.uniform(0.3, 0.6))


def render_stitching(p, rng: np.random.Generator, size: int):
    """A seam where an overlay panel sits on the base panel, sewn with the brand's rows."""
    col, st = p.colours, p.brand.stitch
    pitch = size * rng.uniform(0.075, 0.095) * (st["pitch"] / 0.012) ** 0.5
    # The seam: a gently curved line crossing the frame near its centre.
    ang = rng.uniform(0, np.pi)
    d = np.array([np.cos(ang), np.sin(ang)])
    n = np.array([-d[1], d[0]])
    c = np.array([size / 2, size / 2]) + n * rng.uniform(-0.2, 0.05) * size
    bow = rng.normal(0, 0.06) * size
    seam = catmull_rom([c - d * size, c + n * bow * 0.5 - d * size * 0.4, c + n * bow,
                        c + n * bow * 0.5 + d * size * 0.4, c + d * size], 12)
    far = seam[::-1] + n * size * 2  # overlay side: towards +n
    overlay_m = mask_of(size, [np.vstack([seam, far])])
    img = _material(rng, size, col["upper"], size / 11, 0.12)
    over_img = _material(rng, size, col["overlay"], size / 11, 0.12)
    # The overlay casts a thin shadow onto the base panel along its edge.
    shadow = np.clip(blur(np.roll(overlay_m, (int(size * 0.01), 0), axis=(0, 1)), size * 0.01)
                     - overlay_m, 0, 1)
    img = img * (1 - 0.45 * shadow[..., None])
    img = over_image(img, over_img, overlay_m)
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    dl = ImageDraw.Draw(layer)
    dl.line(poly_xy(seam), fill=shade(col["overlay"], 0.55) + (230,),
            width=max(2, int(size * 0.012)))
    if p.sil["toe_perfs"]:
        mid = seam[len(seam) // 2]
        for i in range(12):
            q = mid + n * size * (0.33 + 0.1 * (i % 3)) + d * size * (0.12 * (i // 3) - 0.2)
            r = size * 0.012
            dl.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=(15, 15, 15, 200))
    width = pitch * 0.3 * (st["width"] / st["pitch"] / 0.4)
    first = pitch * rng.uniform(0.5, 0.7)
    gap = max(pitch * 0.55, pitch * st["gap"] / st["pitch"])
    rows = st["rows"]
    for r in range(rows):
        row = offset(seam, first + r * gap)  # towards +n, onto the overlay
        segs = stitches.layout(row, pitch, st["length"], p.flaws, rng, min_events=2, frame=size)
        stitches.draw(dl, segs, width, col["thread"], holes=True)
    la = np.asarray(layer, np.float32)
    img = over_image(img, la[..., :3], la[..., 3] / 255)
    img = _crease(img, rng, size, col["upper"])
    alpha = np.ones((size, size), np.float32)
    return np.clip(dust(img, alpha, rng, p.dust * 0.5, size), 0, 255), alpha


def _fabric(rng, size: int, colour, period: float) -> np.ndarray:
    """Knit/mesh lining: a fine periodic pattern plus fibre noise."""
    a = rng.uniform(0, np.pi)
    mesh = 0.5 + 0.25 * plane_wave(size, a, period) * plane_wave(size, a + np.pi / 2, period)
    f = 0.85 + 0.2 * mesh + 0.1 * (value_noise(rng, size, size, size / 6) - 0.5)
    return np.asarray(colour, np.float32)[None, None] * f[..., None]


def _paste_rgba(img, alpha, piece: Image.Image, xy, shadow: float = 0.35):
    """Paste an RGBA piece with a soft drop shadow; returns the updated image and alpha."""
    size = img.shape[0]
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(piece, (int(xy[0]), int(xy[1])), piece)
    la = np.asarray(canvas, np.float32)
    a = la[..., 3] / 255
    sh = np.roll(blur(a, size * 0.012), (int(size * 0.01), int(size * 0.008)), axis=(0, 1))
    img = img * (1 - shadow * np.clip(sh - a, 0, 1))[..., None]
    img = over_image(img, la[..., :3], a)
    return img, np.maximum(alpha, a)


def _fabric_print(rng, im: Image.Image, depth: float = 0.07) -> Image.Image:
    arr = np.asarray(im, np.float32)
    h, w = arr.shape[:2]
    yy = np.arange(h, dtype=np.float32)[:, None]
    weave = 1 + 0.025 * np.sin(yy * 2.2) + depth * (value_noise(rng, h, w, max(h, w) / 5) - 0.5)
    arr[..., :3] *= weave[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGBA")


def render_label(p, rng: np.random.Generator, size: int):
    """The size tag sewn inside the tongue, filling most of the frame. Also returns where each
    printed line's text lies, by line key (`labels.render`'s corners, in this image's pixels)."""
    brand = p.brand
    img = _fabric(rng, size, p.colours["lining"], size / rng.uniform(40, 70))
    w = int(size * rng.uniform(0.64, 0.74))
    h = int(w * 1.16)
    quads: dict = {}
    tag = labels.render(p.tag, w, h, brand, quads)
    tag = _fabric_print(rng, tag)
    d = ImageDraw.Draw(tag)
    # Sewn on along its top edge.
    segs = stitches.layout(np.array([[w * 0.04, h * 0.018], [w * 0.96, h * 0.018]]),
                           w / 22, 0.6, stitches.Flaws(), rng)
    stitches.draw(d, segs, max(1, w // 110), shade(p.tag.bg, 0.7))
    tag, quads = labels.rotate(tag, float(rng.uniform(-6, 6)), quads)
    x = (size - tag.width) / 2 + rng.normal(0, size * 0.03)
    y = (size - tag.height) / 2 + rng.normal(0, size * 0.03)
    img, _ = _paste_rgba(img, np.zeros((size, size), np.float32), tag, (x, y))
    quads = {k: q + np.array([int(x), int(y)]) for k, q in quads.items()}
    # The tongue's edge and the shoe's dark interior along one side.
    yy, xx = grid(size)
    yy, xx = yy / size, xx / size
    a = rng.uniform(0, 2 * np.pi)
    g = np.clip((xx - 0.5) * np.cos(a) + (yy - 0.5) * np.sin(a) - 0.3, 0, 1) * 2.5
    img = img * (1 - 0.5 * np.clip(g, 0, 1))[..., None]
    alpha = np.ones((size, size), np.float32)
    return np.clip(dust(img, alpha, rng, p.dust * 0.3, size), 0, 255), alpha, quads


def render_box(p, rng: np.random.Generator, size: int):
    """The end of the shoe box: lid edge, printed mark, and the size sticker; with the sticker's
    line corners, as `render_label`."""
    brand = p.brand
    bx = brand.box
    img = np.zeros((size, size, 3), np.float32)
    alpha = np.zeros((size, size), np.float32)
    top = size * rng.uniform(0.12, 0.2)
    bottom = size * rng.uniform(0.88, 1.02)
    lid_h = size * rng.uniform(0.1, 0.14)
    face = np.array([[-5, top], [size + 5, top], [size + 5, bottom], [-5, bottom]])
    lid = np.array([[-5, top - lid_h * 0.35], [size + 5, top - lid_h * 0.35],
                    [size + 5, top + lid_h], [-5, top + lid_h]])
    face_m = mask_of(size, [face])
    lid_m = mask_of(size, [lid])
    card = _material(rng, size, bx["colour"], size / 8, 0.08)
    img = over_image(img, card, face_m)
    img = over(img, bx["lid"], lid_m)
    below = np.zeros((size, size), np.float32)
    y0 = int(top + lid_h)
    below[y0: y0 + max(1, int(size * 0.025))] = 1
    img = img * (1 - 0.3 * blur(below, size * 0.01) * face_m)[..., None]
    alpha = np.maximum(face_m, lid_m)
    # Brand print on the lid band and a large mark on the free side of the face.
    word = font(brand.font, lid_h * 0.55)
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    dl = ImageDraw.Draw(layer)
    dl.text((size * rng.uniform(0.05, 0.3), top + lid_h * 0.3), brand.wordmark, font=word,
            fill=tuple(bx["print"]) + (255,), anchor="lm")
    sticker_left = bx["sticker_side"] == "left"
    mark_c = (size * (0.86 if sticker_left else 0.14), (top + lid_h + bottom) / 2)
    tf = Affine(size * 0.42, 0, mark_c)
    for q in marks.shapes(brand.mark, marks.BASE[brand.mark] | {"irregular": np.zeros(8)}):
        dl.polygon(poly_xy(tf(q)), fill=tuple(bx["print"]) + (255,))
    la = np.asarray(layer, np.float32)
    img = over_image(img, la[..., :3], la[..., 3] / 255 * face_m)
    # The sticker.
    w = int(size * rng.uniform(0.64, 0.72))
    h = int(w * 0.64)
    quads: dict = {}
    st = _fabric_print(rng, labels.render(p.box, w, h, brand, quads), 0.04)
    st, quads = labels.rotate(st, float(rng.uniform(-2.5, 2.5)), quads)
    x = size * (0.04 if sticker_left else 0.96) - (0 if sticker_left else st.width)
    x += rng.normal(0, size * 0.015)
    y = top + lid_h + (bottom - top - lid_h - st.height) * rng.uniform(0.3, 0.7)
    img, alpha = _paste_rgba(img, alpha, st, (x, y), shadow=0.2)
    quads = {k: q + np.array([int(x), int(y)]) for k, q in quads.items()}
    edge = np.clip(face_m - np.roll(face_m, -int(size * 0.01), axis=0), 0, 1)
    img = over(img, mix(bx["colour"], (0, 0, 0), 0.5), edge * 0.5)
    return np.clip(dust(img, alpha, rng, p.dust * 0.4, size), 0, 255), alpha, quads
