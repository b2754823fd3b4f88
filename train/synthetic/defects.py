"""Counterfeit defects: which exist, how strength scales them, and in which views they show.

Strength in [0, 1] scales every magnitude from "present but subtle" (0) to "obvious" (1); at
strength 0 a defect is still really there in its close-up (a typo is always a real typo).
"""

from __future__ import annotations

import colorsys

import numpy as np

from . import stitches
from .brands import FOREIGN_FONTS

VIEWS = ("side", "logo", "stitching", "label", "sole", "box")

DEFECTS = (
    "stitch_wavy", "stitch_uneven", "stitch_doubled_skipped",
    "logo_geometry", "logo_shade",
    "label_typo", "label_font", "label_misaligned", "label_bleed", "label_country",
    "glue_stain", "rough_edges",
)

LABEL_DEFECTS = tuple(d for d in DEFECTS if d.startswith("label_"))

# Strength from which a close-up defect also shows, weakly, in the whole-shoe side view.
SIDE_FROM = {"stitch": 0.75, "logo": 0.6, "rough_edges": 0.6}


def side_scale(strength: float, kind: str) -> float:
    """How much of a local defect the side view shows: none well below SIDE_FROM, all above.

    Stitching and trimming flaws are local (the stretch the close-up shows); on the rest of the
    shoe they fade out, so subtle ones stay invisible from the side.
    """
    return float(np.clip((strength - (SIDE_FROM[kind] - 0.25)) / 0.4, 0, 1))

# The close-up an inspector takes when suspecting each defect (label defects: where printed).
CLOSE_UP = {
    "stitch_wavy": ("stitching",), "stitch_uneven": ("stitching",),
    "stitch_doubled_skipped": ("stitching",), "logo_geometry": ("logo",),
    "logo_shade": ("logo",), "glue_stain": ("sole", "side"), "rough_edges": ("sole",),
}

# Typefaces too close to a brand's own to make a visible `label_font` defect.
_SIMILAR_FONTS = {
    "DejaVuSerif-Bold": {"STIXGeneralBol", "cmb10"},
    "DejaVuSansMono-Bold": {"DejaVuSansMono"},
    "DejaVuSans-Oblique": {"DejaVuSans-BoldOblique"},
    "cmss10": {"DejaVuSans"},
}


def visible_views(defect: str, strength: float, surfaces: tuple = ()) -> tuple[str, ...]:
    """Views in which `defect` can be seen. `surfaces`: where a label defect is printed."""
    if defect in LABEL_DEFECTS:
        return tuple(surfaces)
    if defect.startswith("stitch_"):
        return ("stitching", "side") if strength >= SIDE_FROM["stitch"] else ("stitching",)
    if defect.startswith("logo_"):
        return ("logo", "side") if strength >= SIDE_FROM["logo"] else ("logo",)
    if defect == "glue_stain":
        return ("side", "sole")
    if defect == "rough_edges":
        return ("sole", "side") if strength >= SIDE_FROM["rough_edges"] else ("sole",)
    raise KeyError(defect)


def draw_strength(difficulty, rng: np.random.Generator) -> float:
    if isinstance(difficulty, (int, float)):
        return float(difficulty)
    lo, hi = {"easy": (0.65, 1.0), "hard": (0.0, 0.35), "mixed": (0.0, 1.0)}[difficulty]
    return float(rng.uniform(lo, hi))


def draw_defects(rng: np.random.Generator) -> tuple[str, ...]:
    n = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
    picks = rng.choice(len(DEFECTS), size=n, replace=False)
    return tuple(DEFECTS[i] for i in sorted(picks))


def draw_surfaces(defect: str, rng: np.random.Generator) -> tuple[str, ...]:
    """Where a label defect is printed: the tongue tag, the box sticker or both."""
    if defect == "label_country":
        return ("label", "box")  # the whole fake is labelled with its true origin
    r = rng.random()
    return ("label",) if r < 0.4 else ("box",) if r < 0.7 else ("label", "box")


def stitch_flaws(defects, strength: float, rng: np.random.Generator) -> stitches.Flaws:
    s = strength
    return stitches.Flaws(
        wavy=(0.2 + 0.6 * s) if "stitch_wavy" in defects else 0.0,
        wave_len=float(rng.uniform(3.5, 6.5)),
        uneven=(0.2 + 0.45 * s) if "stitch_uneven" in defects else 0.0,
        irregular=(0.07 + 0.2 * s) if "stitch_doubled_skipped" in defects else 0.0,
    )


def shaded_mark(colour, strength: float, rng: np.random.Generator) -> tuple[int, int, int]:
    """`logo_shade`: a hue shift on coloured marks, a tint or tone shift on neutral ones."""
    r, g, b = (c / 255 for c in colour)
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    sign = rng.choice([-1, 1])
    if s > 0.25 and v > 0.2:
        h = (h + sign * (12 + 28 * strength) / 360) % 1.0
        v = float(np.clip(v * (1 + rng.uniform(-0.08, 0.08)), 0, 1))
        out = colorsys.hsv_to_rgb(h, s, v)
        return tuple(int(round(c * 255)) for c in out)
    # Neutral mark: a white turns cream or grey, a black turns brown or charcoal.
    amount = 0.14 + 0.36 * strength
    if v > 0.5:
        tint = (230, 205, 150) if rng.random() < 0.6 else (150, 155, 165)
    else:
        tint = (110, 75, 45) if rng.random() < 0.6 else (105, 110, 120)
    return tuple(int(round(c * (1 - amount) + t * amount)) for c, t in zip(colour, tint, strict=True))


def foreign_font(brand_font: str, rng: np.random.Generator) -> str:
    pool = [f for f in FOREIGN_FONTS
            if f != brand_font and f not in _SIMILAR_FONTS.get(brand_font, set())]
    return str(rng.choice(pool))
