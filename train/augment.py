"""Training augmentations (albumentations) applied to the letterboxed photo.

No flips by default: a mirrored "MADE IN VIETNAM" line is itself a counterfeit cue on the
synthetic sets; real photos turn them on (`hflip`), a left shoe being a mirrored right one. Hue is left alone for
the same reason (a logo a few degrees off-shade is a defect), so colour jitter moves brightness,
contrast, gamma and white balance only.
"""

from __future__ import annotations

import os
from functools import partial

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402

from infer.preprocess import PAD_VALUE, downscale  # noqa: E402

from .composite import PasteOnSurface  # noqa: E402

LEVELS = ("none", "light", "default", "strong")


def _whole(img, size: int, **_):
    """A module-level function (not a lambda), so that DataLoader workers can pickle it."""
    return downscale(img, size)


def build_augment(level: str, hflip: bool = False, zoom_out: float = 0.0,
                  detail: tuple[int, float] | None = None, paste: float = 0.0) -> A.Compose | None:
    """`zoom_out` in (0, 1): half of the photos are also shrunk to between `zoom_out` and 1 of
    their size (padded), so a shoe that fills a catalogue shot is also seen as small as a shoe in
    a street photo; 0 = off. `detail` = (size, crop_p): photos come letterboxed at a multiple
    of `size` and leave at `size`, a random full-resolution crop with probability crop_p, else
    the whole photo box-averaged down as serving does (`infer.preprocess.downscale`). `paste`
    in (0, 1]: that share of the photos with a plain backdrop become the shoe cut out and pasted
    onto another surface (`train/composite.py`); 0 = off."""
    if level not in LEVELS:
        raise ValueError(f"augment level {level!r} not in {LEVELS}")
    if not 0.0 <= zoom_out < 1.0:
        raise ValueError(f"zoom_out must lie in [0, 1), got {zoom_out}")
    if not 0.0 <= paste <= 1.0:
        raise ValueError(f"paste must lie in [0, 1], got {paste}")
    fill = (PAD_VALUE,) * 3
    # The cut needs the photo's own border, so it comes before anything moves or pads the photo.
    first = [PasteOnSurface(p=paste)] if paste else []
    first += [A.HorizontalFlip(p=0.5)] if hflip else []
    if zoom_out:
        shift = 0.25 * (1 - zoom_out)  # the shrunk photo may sit anywhere, not only centred
        first.append(A.Affine(scale=(zoom_out, 1.0), translate_percent=(-shift, shift),
                              border_mode=cv2.BORDER_CONSTANT, fill=fill, p=0.5))
    if detail is not None:
        size, crop_p = detail
        first.append(A.OneOf([
            A.Lambda(image=partial(_whole, size=size), p=1.0 - crop_p),
            A.RandomCrop(size, size, p=crop_p),
        ], p=1.0))
    if level == "none":
        return A.Compose(first) if first else None
    k = {"light": 0.5, "default": 1.0, "strong": 1.5}[level]
    ops = [
        A.Affine(
            scale=(1 - 0.12 * k, 1 + 0.12 * k),
            translate_percent=(-0.06 * k, 0.06 * k),
            rotate=(-12 * k, 12 * k),
            border_mode=cv2.BORDER_CONSTANT,
            fill=fill,
            p=0.8,
        ),
        A.RandomBrightnessContrast(0.2 * k, 0.2 * k, p=0.7),
        A.RandomGamma((int(100 - 20 * k), int(100 + 20 * k)), p=0.3),
        A.RGBShift(int(12 * k), int(12 * k), int(12 * k), p=0.4),
    ]
    if level != "light":
        ops += [
            A.Perspective(scale=(0.02, 0.05 * k), border_mode=cv2.BORDER_CONSTANT, fill=fill, p=0.3),
            A.OneOf(
                [A.GaussianBlur(blur_limit=(3, 5), p=1.0), A.MotionBlur(blur_limit=(3, 5), p=1.0)],
                p=0.2 * k,
            ),
            A.GaussNoise(std_range=(0.01, 0.04 * k), p=0.3),
            A.ImageCompression(quality_range=(int(max(30, 80 - 30 * k)), 95), p=0.4),
            A.CoarseDropout(
                num_holes_range=(1, 2),
                hole_height_range=(0.05, 0.15 * k),
                hole_width_range=(0.05, 0.15 * k),
                fill=PAD_VALUE,
                p=0.2,
            ),
        ]
    return A.Compose(first + ops)
