"""Brand marks as parametric polygons in a unit box centred on the origin (x to the toe, y up).

A mark's parameters are what a counterfeiter gets wrong (`logo_geometry`): stripe count and
spacing, arc curvature, star proportions, chevron angle, feather fan. Genuine marks get a small
natural jitter of the same parameters so that "any deviation" is not the rule.
"""

from __future__ import annotations

import numpy as np

MARK_KINDS = ("stripes", "arc", "star", "chevron", "wing")

BASE = {
    "stripes": dict(count=3, angle=62.0, width=0.2, gap=0.15, length=1.0),
    "arc": dict(thick=0.26, sag=0.42, tip_x=0.52, tip_y=0.22, hook=0.12),
    "star": dict(points=5, inner=0.42, turn=0.0, orbit=0.09, orbit_span=230.0),
    "chevron": dict(count=2, angle=38.0, thick=0.17, gap=0.1),
    "wing": dict(count=3, spread=27.0, length=1.0, taper=0.25, step=0.82),
}

# Parameters that may be broken, and how far at strength 0 and 1 (relative unless in degrees).
_FLAWS = {
    "stripes": {"count": None, "angle": (5.0, 16.0), "gap": (0.45, 0.9), "width": (0.3, 0.7)},
    "arc": {"thick": (0.3, 0.65), "sag": (0.3, 0.7), "tip_y": (0.35, 1.0), "hook": (0.6, 1.4)},
    "star": {"points": None, "inner": (0.22, 0.45), "turn": (9.0, 20.0), "orbit": (0.45, 0.9)},
    "chevron": {"count": None, "angle": (7.0, 18.0), "gap": (0.5, 1.2), "thick": (0.3, 0.6)},
    "wing": {"count": None, "spread": (0.4, 0.9), "step": (0.12, 0.2), "taper": (0.35, 0.7)},
}
_DEGREES = {"angle", "turn"}


def natural(kind: str, rng: np.random.Generator) -> dict:
    """Genuine mark: factory tolerance only."""
    g = dict(BASE[kind])
    for k, v in g.items():
        if k in ("count", "points"):
            continue
        g[k] = v + rng.normal(0, 0.6) if k in _DEGREES else v * (1 + rng.normal(0, 0.02))
    g["irregular"] = np.zeros(8)
    return g


def flawed(kind: str, rng: np.random.Generator, strength: float,
           base: dict | None = None) -> tuple[dict, list[str]]:
    """A counterfeit mark: one or two parameters off (three at high strength). `base`: the
    genuine mark it copies (drawn with `natural` when not given)."""
    g = dict(natural(kind, rng) if base is None else base)
    options = list(_FLAWS[kind])
    if strength < 0.55:  # a wrong element count is never subtle
        options = [o for o in options if o not in ("count", "points")]
    n = 1 if strength < 0.4 else (2 if strength < 0.8 else 3)
    picks = list(rng.choice(options, size=min(n, len(options)), replace=False))
    for p in picks:
        if p in ("count", "points"):
            g[p] = BASE[kind][p] + (1 if rng.random() < 0.5 or BASE[kind][p] <= 2 else -1)
            continue
        lo, hi = _FLAWS[kind][p]
        mag = lo + (hi - lo) * strength
        sign = 1 if rng.random() < 0.5 else -1
        if p in _DEGREES:
            g[p] = BASE[kind][p] + sign * mag
        elif p == "gap" and kind == "stripes":
            # Uneven spacing reads better than uniformly wider spacing.
            g["irregular"] = rng.choice([-1, 1], size=8) * mag * rng.uniform(0.6, 1, size=8)
        else:
            g[p] = BASE[kind][p] * max(0.25, 1 + sign * mag)
    return g, [str(p) for p in picks]


def _rot(pts: np.ndarray, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ r.T


def _stripes(g):
    n = int(g["count"])
    a = np.deg2rad(g["angle"])
    run = g["length"] / np.tan(a)  # horizontal travel of a stripe
    polys, x = [], 0.0
    widths = [g["width"] * (1 + (0.5 * g["irregular"][i] if i % 2 else 0)) for i in range(n)]
    gaps = [g["gap"] * (1 + g["irregular"][i]) for i in range(n)]
    starts = []
    for i in range(n):
        starts.append(x)
        x += widths[i] / np.sin(a) + gaps[i] / np.sin(a)
    total = starts[-1] + widths[-1] / np.sin(a) + run
    for i in range(n):
        w = widths[i] / np.sin(a)
        x0 = starts[i] - total / 2
        y0, y1 = -g["length"] / 2, g["length"] / 2
        polys.append(np.array([[x0, y0], [x0 + w, y0], [x0 + w + run, y1], [x0 + run, y1]]))
    return polys


def _arc(g):
    u = np.linspace(0, 1, 40)[:, None]
    p0 = np.array([-0.5, g["hook"]])
    p1 = np.array([-0.15, -g["sag"]])
    p2 = np.array([g["tip_x"], g["tip_y"]])
    centre = (1 - u) ** 2 * p0 + 2 * (1 - u) * u * p1 + u**2 * p2
    d = 2 * (1 - u) * (p1 - p0) + 2 * u * (p2 - p1)
    nrm = np.hstack([-d[:, 1:2], d[:, 0:1]]) / np.linalg.norm(d, axis=1, keepdims=True)
    w = g["thick"] * (1 - u[:, 0]) ** 0.9 * np.clip(u[:, 0] * 6, 0.35, 1)
    upper = centre + nrm * (w[:, None] * 0.5)
    lower = centre - nrm * (w[:, None] * 0.5)
    return [np.vstack([upper, lower[::-1]])]


def _star(g):
    n = int(g["points"])
    ang = np.deg2rad(90 + g["turn"] + np.arange(2 * n) * 180.0 / n)
    r = np.where(np.arange(2 * n) % 2 == 0, 0.36, 0.36 * g["inner"])
    star = np.stack([np.cos(ang) * r, np.sin(ang) * r + 0.04], axis=1)
    # An orbit band sweeping under the star: the "orbi" in the name.
    span = np.deg2rad(np.linspace(-90 - g["orbit_span"] / 2, -90 + g["orbit_span"] / 2, 30))
    r_out, r_in = 0.5, 0.5 - g["orbit"]
    taper = np.sin(np.linspace(0, np.pi, 30)) ** 0.6
    outer = np.stack([np.cos(span) * r_out, np.sin(span) * r_out * 0.8], axis=1)
    inner_r = r_out - (r_out - r_in) * taper
    inner = np.stack([np.cos(span) * inner_r, np.sin(span) * inner_r * 0.8], axis=1)
    return [star, np.vstack([outer, inner[::-1]])]


def _chevron(g):
    n = int(g["count"])
    a = np.deg2rad(g["angle"])
    t = g["thick"]
    arm = 0.5
    polys = []
    pitch = t / np.sin(a) + g["gap"] / np.sin(a)
    for i in range(n):
        x = (i - (n - 1) / 2) * pitch
        tip = np.array([x + arm * np.cos(a) / 2, 0.0])
        top = tip + np.array([-np.cos(a), np.sin(a)]) * arm
        bot = tip + np.array([-np.cos(a), -np.sin(a)]) * arm
        dx = t / np.sin(a)
        polys.append(np.array([top, tip, bot, bot - [dx, 0], tip - [dx, 0], top - [dx, 0]]))
    return polys


def _wing(g):
    n = int(g["count"])
    polys = []
    for i in range(n):
        length = g["length"] * g["step"] ** i
        ang = 6 + i * g["spread"]
        w = g["taper"] * length * 0.5
        leaf = np.array([[0, -w * 0.5], [length * 0.8, -w * 0.3], [length, 0.0],
                         [length * 0.9, w * 0.3], [length * 0.35, w * 0.55], [0, w * 0.45]])
        polys.append(_rot(leaf, ang) + np.array([0.07 * i, 0.0]))
    return polys


_SHAPES = {"stripes": _stripes, "arc": _arc, "star": _star, "chevron": _chevron, "wing": _wing}


def shapes(kind: str, geom: dict) -> list[np.ndarray]:
    """Polygons scaled to fit the unit box, so a flaw changes proportions, not overall size."""
    polys = _SHAPES[kind](geom)
    pts = np.vstack(polys)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    scale = 1.0 / max(hi - lo)
    return [(p - (lo + hi) / 2) * scale for p in polys]
