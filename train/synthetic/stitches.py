"""Stitch rows along a seam, with factory tolerance or counterfeit flaws.

Flaw magnitudes are fractions of the stitch pitch, so the same shoe shows them clearly in a
close-up (pitch ~15 px at 224 px) and barely or not at all in the side view (pitch ~2 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

from .raster import arc_length, at_length, shade


@dataclass(frozen=True)
class Flaws:
    wavy: float = 0.0  # wave amplitude, in pitches
    wave_len: float = 5.0  # wavelength, in pitches
    uneven: float = 0.0  # spread of gaps and lengths, relative
    irregular: float = 0.0  # chance a stitch is doubled or skipped
    natural: float = 0.035  # factory jitter, relative to pitch


def layout(poly: np.ndarray, pitch: float, length: float, flaws: Flaws,
           rng: np.random.Generator, min_events: int = 0,
           frame: float | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stitch segments (start, end) in pixels along `poly` (pixels).

    With `irregular` flaws, at least `min_events` doubled or skipped stitches fall inside the
    square `frame` (pixels), so a subtle flaw is never all outside the photo.
    """
    cum = arc_length(poly)
    total = cum[-1]
    if total < pitch * 1.5:
        return []
    n = int(total / pitch) + 2
    gaps = np.full(n, pitch)
    gaps *= 1 + rng.normal(0, flaws.natural, n)
    lens = np.full(n, length * pitch) * (1 + rng.normal(0, flaws.natural, n))
    if flaws.uneven > 0:
        # Alternating crowded and stretched runs, as from an uneven feed.
        drift = np.cumsum(rng.normal(0, 1, n))
        drift = (drift - drift.mean()) / max(drift.std(), 1e-6)
        gaps *= np.clip(1 + flaws.uneven * (0.6 * rng.normal(0, 1, n) + 0.6 * drift), 0.35, 2.2)
        lens *= np.clip(1 + 0.5 * flaws.uneven * rng.normal(0, 1, n), 0.4, 1.6)
    starts = rng.uniform(0.1, 0.6) * pitch + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    keep = starts + lens < total
    starts, lens = starts[keep], lens[keep]
    m = len(starts)
    perp = rng.normal(0, flaws.natural * pitch, m)
    if flaws.wavy > 0:
        phase = rng.uniform(0, 2 * np.pi)
        perp += flaws.wavy * pitch * np.sin(2 * np.pi * starts / (flaws.wave_len * pitch) + phase)
    p0, t0 = at_length(poly, cum, starts)
    events = np.zeros(m, dtype=int)  # 0 normal, 1 skipped, 2 doubled
    if flaws.irregular > 0 and m > 2:
        hit = rng.random(m) < flaws.irregular
        inside = np.arange(1, m - 1)
        if frame is not None:
            lo, hi = 0.12 * frame, 0.88 * frame
            ok = np.all((p0[inside] > lo) & (p0[inside] < hi), axis=1)
            inside = inside[ok] if ok.any() else inside
        short = min_events - int(hit[inside].sum())
        if short > 0:
            hit[rng.choice(inside, size=min(short, len(inside)), replace=False)] = True
        events[hit] = np.where(rng.random(int(hit.sum())) < 0.5, 1, 2)
    p1, _ = at_length(poly, cum, starts + lens)
    nrm = np.stack([-t0[:, 1], t0[:, 0]], axis=1)
    segs = []
    for i in range(m):
        if events[i] == 1:
            continue
        off = nrm[i] * perp[i]
        a, b = p0[i] + off, p1[i] + off
        segs.append((a, b))
        if events[i] == 2:
            # A second pass a little beside and askew, the look of a re-sewn stitch.
            side = nrm[i] * pitch * rng.uniform(0.22, 0.4) * rng.choice([-1, 1])
            skew = t0[i] * pitch * rng.uniform(-0.25, 0.25)
            segs.append((a + side + skew, b + side))
    return segs


def draw(d: ImageDraw.ImageDraw, segs, width: float, thread, holes: bool = False) -> None:
    """Draw stitches; in close-ups add needle holes and a shadow so they read as thread."""
    w = max(1, int(round(width)))
    if holes and w >= 3:
        dark = shade(thread, 0.45) + (150,)
        hr = max(1.0, w * 0.45)
        for a, b in segs:
            for p in (a, b):
                d.ellipse([p[0] - hr, p[1] - hr, p[0] + hr, p[1] + hr], fill=(20, 20, 20, 170))
            d.line([(a[0] + w * 0.3, a[1] + w * 0.3), (b[0] + w * 0.3, b[1] + w * 0.3)],
                   fill=dark, width=w)
    fill = tuple(thread) + (255,)
    hi = shade(thread, 1.25) + (255,)
    for a, b in segs:
        d.line([tuple(a), tuple(b)], fill=fill, width=w)
        if holes and w >= 4:
            d.line([tuple(a), tuple(b)], fill=hi, width=max(1, w // 3))
