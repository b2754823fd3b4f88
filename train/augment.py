"""Training augmentations (albumentations) applied to the letterboxed photo.

No flips by default: a mirrored "MADE IN VIETNAM" line is itself a counterfeit cue on the
synthetic sets; real photos turn them on (`hflip`), a left shoe being a mirrored right one. Hue is left alone for
the same reason (a logo a few degrees off-shade is a defect), so colour jitter moves brightness,
contrast, gamma and white balance only.
"""

from __future__ import annotations

import os

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402
import cv2  # noqa: E402

from infer.preprocess import PAD_VALUE  # noqa: E402

LEVELS = ("none", "light", "default", "strong")


def build_augment(level: str, hflip: bool = False) -> A.Compose | None:
    """The training augmentation of `level`, with mirrored photos when `hflip`; None for
    `none` without flips."""
    if level not in LEVELS:
        raise ValueError(f"augment level {level!r} not in {LEVELS}")
    fill = (PAD_VALUE,) * 3
    first = [A.HorizontalFlip(p=0.5)] if hflip else []
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
