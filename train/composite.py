"""Brand photos cut from their studio backdrop and pasted onto other surfaces.

The brand head learns from catalogue, product and thumbnail photos: nearly all a shoe on a plain
backdrop, filling the frame. Street photos put a smaller shoe on pavement, grass, a floor or a
bed, and the head reads most of them as nike, the brand with most studio shots. Cutting the shoe
out and pasting it at a random size and place onto another surface (the cut-and-paste
augmentation of Dwibedi et al., ICCV 2017) says that the surface and the framing carry no brand.

The cut is a flood fill from the photo's border that follows smooth backdrop gradients and stops
at edges. Photos whose border is not a plain backdrop, or whose cut-out is implausibly small or
large, pass through unchanged: a wrong cut would teach the head a torn shoe.
"""

from __future__ import annotations

import os
from functools import cache

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from infer.preprocess import PAD_VALUE  # noqa: E402

from .synthetic.capture import BACKGROUNDS, background, compose  # noqa: E402
from .synthetic.raster import value_noise  # noqa: E402

# Per-neighbour tolerance of the fill: a backdrop's gradient moves a level or two between
# neighbouring pixels, a shoe's outline tens of levels.
FILL_STEP = 3
# At least this share of the photo's border must be backdrop for the photo to be cut.
MIN_PLAIN_BORDER = 0.7
# Cut-outs outside this share of the photo are a leak into the shoe or a fill stopped by noise.
SHOE_SHARE = (0.05, 0.85)
# A shoe, or a pair, fills most of its convex hull; a white shoe the fill leaked into on a
# white backdrop is left as fragments that do not.
MIN_SOLIDITY = 0.6


def _content_box(img: np.ndarray) -> tuple[int, int, int, int] | None:
    """Rows and columns the photo covers inside its letterbox (pad pixels are exactly PAD_VALUE)."""
    photo = (img != PAD_VALUE).any(axis=2)
    rows, cols = np.flatnonzero(photo.any(axis=1)), np.flatnonzero(photo.any(axis=0))
    if len(rows) < 16 or len(cols) < 16:
        return None
    return rows[0], rows[-1] + 1, cols[0], cols[-1] + 1


def backdrop_mask(img: np.ndarray) -> np.ndarray | None:
    """Foreground mask (float 0..1, same size as `img`) of the object on a plain backdrop, or
    None when the photo has no plain backdrop to cut it from."""
    box = _content_box(img)
    if box is None:
        return None
    top, bottom, left, right = box
    photo = np.ascontiguousarray(img[top:bottom, left:right])
    h, w = photo.shape[:2]
    fill = np.zeros((h + 2, w + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    step = (FILL_STEP,) * 3
    border = [(x, 0) for x in range(w)] + [(x, h - 1) for x in range(w)]
    border += [(0, y) for y in range(h)] + [(w - 1, y) for y in range(h)]
    for x, y in border[::4]:
        if not fill[y + 1, x + 1]:
            cv2.floodFill(photo, fill, (x, y), 0, step, step, flags)
    backdrop = fill[1:-1, 1:-1].astype(bool)
    ring = np.concatenate([backdrop[0], backdrop[-1], backdrop[:, 0], backdrop[:, -1]])
    if ring.mean() < MIN_PLAIN_BORDER:
        return None
    shoe = (~backdrop).astype(np.uint8)
    # Specks of JPEG noise left in the backdrop go; pinholes in the shoe close.
    shoe = cv2.morphologyEx(shoe, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    shoe = cv2.morphologyEx(shoe, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    if not SHOE_SHARE[0] <= shoe.mean() <= SHOE_SHARE[1]:
        return None
    # Keep the object's parts (a pair is two), drop crumbs; then ask whether they are solid.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(shoe, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    shoe = np.isin(labels, 1 + np.flatnonzero(areas >= 0.15 * areas.max())).astype(np.uint8)
    hull = cv2.convexHull(cv2.findNonZero(shoe))
    if shoe.sum() < MIN_SOLIDITY * cv2.contourArea(hull):
        return None
    mask = np.zeros(img.shape[:2], np.float32)
    mask[top:bottom, left:right] = cv2.GaussianBlur(shoe.astype(np.float32), (0, 0), 0.8)
    return mask


@cache
def _texture(name: str) -> np.ndarray:
    """One of scikit-image's texture photos, decoded once per process (not once per draw)."""
    from skimage import data

    return getattr(data, name)().astype(np.float32)


def _texture_surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """Pavement, grass, gravel or brick (scikit-image's texture photos), tinted and rescaled."""
    tex = _texture(str(rng.choice(["brick", "grass", "gravel"])))
    crop = int(rng.integers(size // 2, tex.shape[0]))
    y, x = rng.integers(0, tex.shape[0] - crop + 1), rng.integers(0, tex.shape[1] - crop + 1)
    tex = cv2.resize(tex[y:y + crop, x:x + crop], (size, size), interpolation=cv2.INTER_AREA)
    tint = rng.uniform(0.6, 1.2, 3).astype(np.float32)
    return tex[..., None] * tint[None, None]


def _smooth_surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """A lit room's floor, wall or bedding: two colours blended by smooth noise."""
    a, b = rng.uniform(20, 240, 3), rng.uniform(20, 240, 3)
    t = value_noise(rng, size, size, rng.uniform(2, 6), octaves=3)[..., None]
    return (a * (1 - t) + b * t).astype(np.float32)


def random_surface(rng: np.random.Generator, size: int) -> np.ndarray:
    """HxWx3 float32 in 0..255: a surface a shoe might stand on in a street or home photo."""
    pick = rng.integers(3)
    if pick == 0:
        scene = dict(kind=str(rng.choice(BACKGROUNDS)), seed=int(rng.integers(2**31)))
        return background(scene, rng, size)
    if pick == 1:
        return _texture_surface(rng, size)
    return _smooth_surface(rng, size)


def paste(img: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
          scale: tuple[float, float] = (0.35, 0.95)) -> np.ndarray:
    """The masked object at a random size (its longer side a `scale` share of the frame) and
    place, with a soft contact shadow, on a random surface filling the whole frame."""
    size = img.shape[0]
    ys, xs = np.nonzero(mask > 0.5)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    obj, alpha = img[y0:y1, x0:x1].astype(np.float32), mask[y0:y1, x0:x1]
    f = rng.uniform(*scale) * size / max(y1 - y0, x1 - x0)
    oh, ow = max(1, round((y1 - y0) * f)), max(1, round((x1 - x0) * f))
    obj = cv2.resize(obj, (ow, oh), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    alpha = cv2.resize(alpha, (ow, oh), interpolation=cv2.INTER_LINEAR)
    # Up to an eighth of the shoe may leave the frame, as in a photo framed in a hurry.
    py = int(rng.integers(-oh // 8, size - oh + oh // 8 + 1))
    px = int(rng.integers(-ow // 8, size - ow + ow // 8 + 1))
    rgb = np.zeros((size, size, 3), np.float32)
    a = np.zeros((size, size), np.float32)
    sy, sx = max(0, -py), max(0, -px)
    ty, tx = max(0, py), max(0, px)
    hh, ww = min(oh - sy, size - ty), min(ow - sx, size - tx)
    a[ty:ty + hh, tx:tx + ww] = alpha[sy:sy + hh, sx:sx + ww]
    rgb[ty:ty + hh, tx:tx + ww] = obj[sy:sy + hh, sx:sx + ww] * a[ty:ty + hh, tx:tx + ww, None]
    surface = random_surface(rng, size) * rng.uniform(0.7, 1.1)
    return np.clip(compose(surface, rgb, a, rng), 0, 255).astype(np.uint8)


class PasteOnSurface(A.ImageOnlyTransform):
    """With probability p, a photo with a plain backdrop becomes its object on another surface
    (`backdrop_mask`, `paste`); other photos pass unchanged. Draws from the transform's own
    generator, so `Compose.set_random_seed` makes it repeatable like the rest of the pipeline."""

    def __init__(self, scale: tuple[float, float] = (0.35, 0.95), p: float = 0.5):
        super().__init__(p=p)
        self.scale = scale

    def apply(self, img: np.ndarray, **params) -> np.ndarray:
        mask = backdrop_mask(img)
        if mask is None:
            return img
        return paste(img, mask, self.random_generator, self.scale)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("scale",)
