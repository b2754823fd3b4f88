"""The sole seen from below: outsole with the brand's tread, midsole rim, moulded mark."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from . import marks
from .raster import (
    Affine,
    blur,
    catmull_rom,
    font,
    mask_of,
    mix,
    normals,
    over,
    poly_xy,
    shade,
    similar,
)
from .wear import dust, grain, stain

TREADS = ("herringbone", "waffle", "diamond", "lugs", "waves")

_FOOT = [(0.0, 0.0), (0.015, 0.085), (0.08, 0.135), (0.2, 0.14), (0.4, 0.118), (0.6, 0.15),
         (0.75, 0.165), (0.88, 0.15), (0.965, 0.09), (1.0, 0.015), (0.99, -0.05), (0.94, -0.11),
         (0.8, -0.155), (0.62, -0.14), (0.45, -0.085), (0.3, -0.1), (0.15, -0.125),
         (0.04, -0.105)]


def footprint() -> np.ndarray:
    return catmull_rom(_FOOT, 8, closed=True)


def _tread(d, tf, kind: str, k: float) -> None:
    """Tread grooves over the whole outsole area (clipped by the caller)."""
    w = max(1, round(0.006 * k))
    lines = []
    if kind == "herringbone":
        for x in np.arange(-0.02, 1.03, 0.03):
            ys = np.arange(-0.2, 0.21, 0.03)
            lines.append(np.stack([x + 0.012 * (np.arange(len(ys)) % 2), ys], 1))
    elif kind == "waffle":
        for x in np.arange(-0.02, 1.03, 0.035):
            lines.append(np.array([(x, -0.2), (x, 0.2)]))
        for y in np.arange(-0.2, 0.21, 0.035):
            lines.append(np.array([(-0.02, y), (1.02, y)]))
    elif kind == "diamond":
        for c in np.arange(-0.6, 1.5, 0.04):
            lines.append(np.array([(c, -0.2), (c + 0.4, 0.2)]))
            lines.append(np.array([(c, 0.2), (c + 0.4, -0.2)]))
        t = np.linspace(0, 2 * np.pi, 40)
        for r in (0.03, 0.06, 0.09):
            lines.append(np.stack([0.75 + r * np.cos(t), r * np.sin(t)], 1))
    elif kind == "lugs":
        for x in np.arange(0.0, 1.02, 0.06):
            for y0 in (-0.16, 0.0):
                lines.append(np.array([(x, y0), (x + 0.03, y0 + 0.08), (x, y0 + 0.16)]))
    elif kind == "waves":
        ys = np.linspace(-0.2, 0.2, 40)
        for x in np.arange(-0.02, 1.03, 0.028):
            lines.append(np.stack([x + 0.008 * np.sin(ys * 60), ys], 1))
    for ln in lines:
        d.line(poly_xy(tf(ln)), fill=255, width=w * (2 if kind == "lugs" else 1))


def render_sole(p, rng: np.random.Generator, size: int):
    """Outsole from below, the midsole rim and a sliver of upper around it."""
    col, brand = p.colours, p.brand
    k = size * rng.uniform(0.78, 0.9)
    angle = float(rng.choice([0, 90, 180, 270]) + rng.uniform(-25, 25))
    tf = Affine(k, angle, (0, 0), flip_x=bool(rng.random() < 0.5))
    tf.b = np.array([size / 2, size / 2]) + rng.normal(0, 0.02 * size, 2) - tf(np.array([0.5, 0]))
    foot = footprint()
    peek = foot * 1.02 + np.array([-0.01, rng.choice([-1, 1]) * 0.025])
    img = np.zeros((size, size, 3), np.float32)
    peek_m = mask_of(size, [peek], tf)
    img = over(img, shade(col["upper"], 0.78), peek_m)
    rim_poly = foot
    if p.rough > 0:
        n = normals(foot)
        jag = rng.normal(0, p.rough * 0.8, len(foot)) + p.rough * 0.5
        rim_poly = foot - n * jag[:, None]
    rim_m = mask_of(size, [rim_poly], tf)
    clean_m = mask_of(size, [foot], tf)
    rim_px = max(2, int(0.028 * k))
    out_m = cv2.erode(clean_m, np.ones((rim_px, rim_px), np.float32)) * rim_m
    img = over(img, col["midsole"], rim_m)
    img = over(img, col["outsole"], out_m)
    flash_m = 0.0
    if p.rough > 0:
        img, flash_m = _sole_flash(img, tf, foot, p.rough, col["midsole"], rng, size)

    tread = Image.new("L", (size, size), 0)
    _tread(ImageDraw.Draw(tread), tf, brand.tread, k)
    emb = Image.new("L", (size, size), 0)
    de = ImageDraw.Draw(emb)
    for q in marks.shapes(brand.mark, marks.BASE[brand.mark] | {"irregular": np.zeros(8)}):
        de.polygon(poly_xy(tf(similar(q, 0.16, 0, (0.47, 0.0)))), fill=255)
    axis = float(np.degrees(np.arctan2(-tf.m[1, 0], tf.m[0, 0])))
    if abs(axis) > 90:  # keep the moulded wordmark the right way up
        axis -= 180 * np.sign(axis)
    word = _rotated_text(brand.wordmark, brand.font, 0.045 * k, axis,
                         tf(np.array([[0.2, 0.0]]))[0], size)
    tm = np.asarray(tread, np.float32) / 255
    em = np.clip(np.asarray(emb, np.float32) / 255 + word, 0, 1)
    clear = 1 - cv2.dilate(em, np.ones((max(3, rim_px // 2),) * 2, np.float32))
    tm = tm * clear * out_m
    em = em * out_m
    wear = _wear_patches(rng, tf, size, p.wear)
    dark = sum(col["outsole"]) / 3 < 80
    groove = tuple(min(255, c + 40) for c in col["outsole"]) if dark else shade(col["outsole"], 0.55)
    img = over(img, groove, tm * (1 - 0.8 * wear))
    shifted = np.roll(tm, (1, 1), axis=(0, 1))
    img = over(img, shade(col["outsole"], 1.25), np.clip(shifted - tm, 0, 1) * 0.6 * (1 - wear))
    img = over(img, groove, em * 0.9)
    img = over(img, mix(col["outsole"], (235, 235, 230), 0.35), wear * out_m * 0.5)
    alpha = np.clip(peek_m + rim_m + flash_m, 0, 1)
    for gx, gr, ga in p.glue:
        img = _glue_sole(img, tf, foot, gx, gr, ga, size, alpha)
    img = img * grain(rng, size, size / 7, 0.07)
    img = dust(img, alpha, rng, p.dust, size)
    return np.clip(img, 0, 255), alpha


def _rotated_text(text, font_name, height, angle, centre, size) -> np.ndarray:
    ft = font(font_name, height)
    x0, y0, x1, y1 = ft.getbbox(text)
    im = Image.new("L", (x1 - x0 + 4, y1 - y0 + 4), 0)
    ImageDraw.Draw(im).text((2 - x0, 2 - y0), text, font=ft, fill=255)
    im = im.rotate(angle, resample=Image.BILINEAR, expand=True)
    canvas = Image.new("L", (size, size), 0)
    canvas.paste(im, (int(centre[0] - im.width / 2), int(centre[1] - im.height / 2)))
    return np.asarray(canvas, np.float32) / 255


def _wear_patches(rng, tf, size, wear) -> np.ndarray:
    if wear < 0.05:
        return np.zeros((size, size), np.float32)
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    for x, y, r in ((0.07, 0.06, 0.07), (0.78, 0.05, 0.08), (0.92, -0.03, 0.05)):
        c = tf(np.array([[x, y + rng.normal(0, 0.01)]]))[0]
        rr = r * tf.scale * (0.5 + wear)
        d.ellipse([c[0] - rr, c[1] - rr, c[0] + rr, c[1] + rr], fill=int(255 * min(1, wear * 1.2)))
    return blur(np.asarray(layer, np.float32) / 255, size * 0.02)


def _lateral_point(foot: np.ndarray, x: float):
    lat = np.where(foot[:, 1] > 0)[0]
    i = lat[np.argmin(np.abs(foot[lat, 0] - x))]
    return foot[i], normals(foot)[i]


def _glue_sole(img, tf, foot, x, r, a, size, within):
    pt, n = _lateral_point(foot, x)
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    tang = np.array([n[1], -n[0]])
    for t in np.linspace(-1.2, 1.2, 4):
        c = tf(np.array([pt + tang * r * t - n * r * 0.2]))[0]
        rr = r * tf.scale * (0.9 - 0.3 * abs(t) / 1.2)
        d.ellipse([c[0] - rr, c[1] - rr, c[0] + rr, c[1] + rr], fill=255)
    return stain(img, np.asarray(layer, np.float32) / 255, a, max(0.5, r * tf.scale * 0.2),
                 within)


def _sole_flash(img, tf, foot, rough, colour, rng, size):
    n = normals(foot)
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    for _ in range(2 + int(rough * 500)):
        i = int(rng.integers(0, len(foot)))
        tang = np.array([n[i][1], -n[i][0]])
        w = rng.uniform(0.004, 0.01)
        h = rough * rng.uniform(1.5, 3.0)
        tri = np.array([foot[i] - tang * w, foot[i] + tang * w,
                        foot[i] + n[i] * h + tang * rng.uniform(-w, w)])
        d.polygon(poly_xy(tf(tri)), fill=255)
    m = np.asarray(layer, np.float32) / 255
    return over(img, shade(colour, 0.92), m), m
