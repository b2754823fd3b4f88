"""Small raster helpers shared by the view renderers: curves, fonts, noise, compositing.

All geometry is numpy arrays of (x, y) points; renderers draw with PIL (fast, deterministic)
and composite with numpy.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _font_dir() -> Path:
    # Located without importing matplotlib: the import costs ~0.5 s in every worker.
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        raise RuntimeError("matplotlib is needed for its bundled TTF fonts")
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


FONT_DIR = _font_dir()


@lru_cache(maxsize=512)
def font(name: str, size: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / f"{name}.ttf"), max(5, round(size)))


def fit_text_size(text: str, font_name: str, width: float, height: float) -> float:
    """Largest size (within `height`) at which `text` fits `width`."""
    ref = 40
    x0, _, x1, _ = font(font_name, ref).getbbox(text)
    return max(5.0, min(height, ref * width / max(1, x1 - x0)))


def catmull_rom(points, samples: int = 10, closed: bool = False) -> np.ndarray:
    """Smooth curve through control points; shoes are drawn from a handful of such points."""
    p = np.asarray(points, dtype=np.float64)
    if closed:
        p = np.vstack([p[-1], p, p[0], p[1]])
    else:
        p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0, 1, samples, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t3
            )
        )
    if not closed:
        out.append(p[-2][None])
    return np.vstack(out)


def normals(poly: np.ndarray) -> np.ndarray:
    """Unit left-hand normals of a polyline (rotate the tangent by +90 degrees)."""
    d = np.gradient(poly, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    return np.stack([-d[:, 1], d[:, 0]], axis=1)


def offset(poly: np.ndarray, dist: float) -> np.ndarray:
    return poly + normals(poly) * dist


def arc_length(poly: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    return np.concatenate([[0.0], np.cumsum(seg)])


def at_length(poly: np.ndarray, cum: np.ndarray, s: np.ndarray):
    """Points and unit tangents at arc lengths `s` along a polyline."""
    x = np.interp(s, cum, poly[:, 0])
    y = np.interp(s, cum, poly[:, 1])
    eps = 0.5
    x2 = np.interp(s + eps, cum, poly[:, 0]) - np.interp(s - eps, cum, poly[:, 0])
    y2 = np.interp(s + eps, cum, poly[:, 1]) - np.interp(s - eps, cum, poly[:, 1])
    t = np.stack([x2, y2], axis=1)
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
    return np.stack([x, y], axis=1), t


class Affine:
    """Maps shoe-local coordinates (y up) to pixels (y down)."""

    def __init__(self, scale: float, angle_deg: float, origin, flip_x: bool = False):
        a = np.deg2rad(angle_deg)
        sx = -scale if flip_x else scale
        self.m = np.array(
            [[sx * np.cos(a), scale * np.sin(a)], [sx * np.sin(a), -scale * np.cos(a)]]
        )
        self.b = np.asarray(origin, dtype=np.float64)
        self.scale = scale

    def __call__(self, pts) -> np.ndarray:
        return np.asarray(pts, dtype=np.float64) @ self.m.T + self.b


def similar(pts, scale: float, angle_deg: float, centre) -> np.ndarray:
    """Rotate (counter-clockwise, y up), scale and move points without flipping them."""
    a = np.deg2rad(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * scale
    return np.asarray(pts, dtype=np.float64) @ r.T + np.asarray(centre, dtype=np.float64)


def poly_xy(pts: np.ndarray) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in pts]


def mask_of(size: int, polys, transform=None) -> np.ndarray:
    """Filled polygons as a float32 mask in [0, 1]."""
    im = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(im)
    for p in polys:
        q = transform(p) if transform is not None else p
        if len(q) >= 3:
            d.polygon(poly_xy(q), fill=255)
    return np.asarray(im, dtype=np.float32) / 255.0


def plane_wave(size: int, angle: float, period: float, phase: float = 0.0):
    """sin of a rotated coordinate, built from 1-D factors: sin(a + b) = sin a cos b + cos a sin b."""
    k = 2 * np.pi / period
    x = np.arange(size, dtype=np.float32)
    ax, by = k * np.cos(angle) * x + phase, k * np.sin(angle) * x
    return np.outer(np.cos(by), np.sin(ax)) + np.outer(np.sin(by), np.cos(ax))


def value_noise(rng: np.random.Generator, h: int, w: int, cells: float, octaves: int = 1):
    """Smooth noise in [0, 1]: upsampled random grids, a cheap stand-in for Perlin noise."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        c = max(2, int(round(cells * 2**o)))
        grid = rng.random((c, c)).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.5
    out /= total
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def bbox(alpha: np.ndarray, eps: float = 1e-3):
    """Row and column slices holding every alpha > eps, or None: blending only there is faster."""
    rows = np.flatnonzero(alpha.max(axis=1) > eps)
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(alpha[rows[0]: rows[-1] + 1].max(axis=0) > eps)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def over(dst: np.ndarray, colour, alpha: np.ndarray) -> np.ndarray:
    """Paint a flat colour over an RGB float32 image through an alpha mask (in place)."""
    box = bbox(alpha)
    if box is None:
        return dst
    sub = dst[box]
    sub -= (sub - np.asarray(colour, np.float32)) * alpha[box][..., None]
    return dst


@lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (yy, xx) of a size x size image, shared and read-only."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def over_image(dst: np.ndarray, src: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Paint an image of the same size over `dst` through an alpha mask (in place)."""
    box = bbox(alpha)
    if box is None:
        return dst
    sub = dst[box]
    sub -= (sub - src[box]) * alpha[box][..., None]
    return dst


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0.05:
        return img
    if sigma < 4 or img.ndim != 2:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    # Wide blurs of masks (shadows, glows) lose nothing when done at a lower resolution.
    f = int(sigma // 2)
    h, w = img.shape
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(min(255, max(0, int(c * factor))) for c in colour)


def mix(c1, c2, t: float) -> tuple[int, int, int]:
    return tuple(int(round(a * (1 - t) + b * t)) for a, b in zip(c1, c2, strict=True))
