"""A studio shoe cut from its plain backdrop: how the shoe locator was measured.

`locator_probe.py` pastes such cut-outs onto textured surfaces, where the true box is known, to
choose the footwear map's resolution (`infer/shoe_crop.py`); a shared-data test does the same on
a few product shots. The cut is a flood fill from the photo's border that follows smooth
backdrop gradients and stops at edges. Photos whose border is not a plain backdrop, or whose
cut-out is implausibly small, large or ragged, give None.
"""

from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 128  # infer.preprocess.PAD_VALUE: letterbox padding is not part of the photo

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
