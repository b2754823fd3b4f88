"""Surface finish shared by the views: leather grain, dust and scuffs, dried glue."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .raster import blur, over, value_noise

GLUE = (222, 186, 92)
GLUE_EDGE = (150, 110, 40)


def grain(rng, size: int, cells: float, depth: float) -> np.ndarray:
    return (1 + depth * (value_noise(rng, size, size, cells, octaves=2) - 0.5))[..., None]


def dust(img: np.ndarray, alpha: np.ndarray, rng, amount: float, size: int) -> np.ndarray:
    """Scuffs and dust specks, on genuine and fake shoes alike."""
    n = int(amount * 14)
    if n == 0:
        return img
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    for _ in range(n):
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(0.004, 0.02) * size
        d.ellipse([x - r, y - r * rng.uniform(0.3, 1), x + r, y + r], fill=int(rng.uniform(20, 70)))
    m = blur(np.asarray(layer, np.float32) / 255.0, size * 0.003) * alpha
    tone = (150, 140, 125) if rng.random() < 0.6 else (70, 65, 60)
    return over(img, tone, m)


def stain(img, shape, a, soft, within):
    """Dried glue: a translucent yellow film with a darker rim where it pooled, and a gloss.

    `within`: the object's alpha; glue outside it would float over the background.
    """
    m = blur(shape, soft) * within
    img = over(img, GLUE, m * a)
    k = max(3, int(soft * 2) | 1)
    rim = np.clip(m - cv2.erode(m, np.ones((k, k), np.float32)), 0, 1)
    img = over(img, GLUE_EDGE, rim * a * 0.8)
    hi = np.clip(m - 0.85, 0, 1) / 0.15 * 0.3
    return over(img, (255, 250, 225), hi)
