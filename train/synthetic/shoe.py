"""The whole shoe seen from the side: upper with panels, seams, mark, laces, and the sole.

Shoe-local coordinates: x runs from heel (0) to toe (1), y up from the ground, in shoe lengths.
Renderers return an RGB float image and an alpha mask; capture.py puts them on a background.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image, ImageDraw

from . import marks, stitches
from .defects import side_scale
from .raster import (
    Affine,
    blur,
    catmull_rom,
    grid,
    mask_of,
    normals,
    offset,
    over,
    over_image,
    poly_xy,
    shade,
    similar,
)
from .wear import dust, grain, stain

SAMPLES = 10  # catmull-rom samples per control-point segment


def _sole_heights(sil: dict, x):
    x = np.asarray(x, dtype=np.float64)
    ground = sil["toe_spring"] * np.clip((x - 0.7) / 0.3, 0, 1) ** 2 + 0.02 * np.clip(
        (0.07 - x) / 0.07, 0, 1) ** 2
    mid = ground + sil["outsole_h"]
    top = mid + sil["sole_h"] * (1.15 - 0.3 * np.clip(x, 0, 1))
    return ground, mid, top


def side_geometry(sil: dict) -> dict:
    """Outlines of the upper, its panels, seams and the sole, in shoe-local coordinates."""
    def top(x):
        return float(_sole_heights(sil, x)[2])

    c, dip, th = sil["collar_h"], sil["collar_dip"], sil["toe_h"]
    tx, vx = sil["throat_x"], sil["vamp_x"]
    front_y = c - dip * 0.9
    throat = (tx, front_y - 0.015)
    vamp = (vx, top(vx) + th + 0.02)
    ctrl = [
        (0.035, top(0.035) - 0.012), (0.002, top(0.0) + 0.05), (-0.006, top(0) + (c - top(0)) * 0.6),
        (0.03, c), (0.12, c - dip * 0.55), (0.22, c - dip), (tx - 0.05, front_y), throat,
        ((tx + vx) / 2, (throat[1] + vamp[1]) / 2 + 0.012), vamp,
        (0.85, top(0.85) + th * 0.93), (0.95, top(0.95) + th * 0.62), (1.0, top(1.0) + th * 0.2),
        (0.985, top(0.985) - 0.012),
    ]
    contour = catmull_rom(ctrl, SAMPLES)
    lace = contour[7 * SAMPLES: 9 * SAMPLES + 1]
    collar = contour[3 * SAMPLES: 7 * SAMPLES + 1]
    xs = np.linspace(0.985, 0.035, 40)
    base = np.stack([xs, _sole_heights(sil, xs)[2] - 0.015], axis=1)
    upper = np.vstack([contour, base])

    xa = sil.get("toe_cap_x", 0.79)
    toe_seam = catmull_rom([(xa, top(xa) - 0.01), (xa - 0.022, top(xa) + th * 0.55),
                            (xa - 0.03, top(xa) + th + 0.08)], SAMPLES)
    heel_seam = catmull_rom([(0.28, top(0.28) - 0.01), (0.21, top(0.21) + 0.07),
                             (0.11, c * 0.8), (-0.05, c * 0.86)], SAMPLES)
    eyestay_edge = offset(lace, -0.055)
    xs = np.linspace(-0.03, 1.03, 60)
    _, _, tops = _sole_heights(sil, xs)
    foxing_top = np.stack([xs, tops + 0.03], axis=1)
    return dict(
        upper=upper, contour=contour, lace=lace, collar=collar,
        toe_cap=np.vstack([toe_seam, [(1.4, 1.0), (1.4, -0.3)]]), toe_seam=toe_seam,
        heel=np.vstack([heel_seam, [(-0.4, c), (-0.4, -0.3)]]), heel_seam=heel_seam,
        eyestay=np.vstack([offset(lace, 0.04), eyestay_edge[::-1]]), eyestay_edge=eyestay_edge,
        foxing=np.vstack([foxing_top, np.stack([xs[::-1], tops[::-1] - 0.02], axis=1)]),
        foxing_top=foxing_top,
        tongue=catmull_rom([(tx - 0.065, front_y - 0.05), (tx - 0.055, c + 0.02),
                            (tx - 0.02, c + 0.045), (tx + 0.04, c + 0.035),
                            (tx + 0.075, throat[1] + 0.005), (tx + 0.085, throat[1] - 0.06)], 6),
        inner_collar=np.vstack([collar, offset(collar, 0.022)[::-1]]),
        heel_tab=np.array([(-0.012, c - 0.075), (0.045, c - 0.075), (0.05, c + 0.012),
                           (0.0, c + 0.012)]),
    )


def sole_outline(sil: dict, rough: float = 0.0, rng=None) -> np.ndarray:
    """Side-view sole polygon; `rough` > 0 roughens the midsole's top edge (bad trimming)."""
    xs = np.linspace(-0.012, 1.012, 160)
    ground, _, top = _sole_heights(sil, xs)
    if rough > 0:
        top = top + rng.normal(0, rough * 0.45, len(xs)) + rough * 0.4
    cap_t = (ground[-1] + top[-1]) / 2
    cap_h = (ground[0] + top[0]) / 2
    return np.vstack([np.stack([xs, ground], 1), [(1.02, cap_t)],
                      np.stack([xs[::-1], top[::-1]], 1), [(-0.02, cap_h)]])


def _stitch_rows(d, tf, seam, into: float, st: dict, flaws, rng, mask, thread):
    """Stitch rows parallel to a seam, `into` (signed, shoe lengths) the overlapping panel."""
    for r in range(st["rows"]):
        row = tf(offset(seam, into + np.sign(into) * r * st["gap"]))
        pitch = st["pitch"] * tf.scale
        segs = stitches.layout(row, pitch, st["length"], flaws, rng)
        h, w = mask.shape
        kept = []
        for a, b in segs:
            m = (a + b) / 2
            xi, yi = int(m[0]), int(m[1])
            if 0 <= xi < w and 0 <= yi < h and mask[yi, xi] > 0.5:
                kept.append((a, b))
        stitches.draw(d, kept, st["width"] * tf.scale, thread)


def render_side(p, rng: np.random.Generator, size: int):
    """Whole shoe side-on; returns (rgb float32, alpha)."""
    sil, col, brand = p.sil, p.colours, p.brand
    g = side_geometry(sil)
    # Fill most of the frame but keep the whole shoe in it, high-tops included.
    height = sil["collar_h"] + 0.06
    k = size * rng.uniform(0.74, 0.84) / max(1.04, height * 2.2)
    flip = bool(rng.random() < 0.5)
    centre = np.array([size / 2, size / 2]) + rng.normal(0, 0.02 * size, 2)
    tf = Affine(k, rng.normal(0, 2.0), (0, 0), flip_x=flip)
    tf.b = centre - tf(np.array([0.5, height / 2 - 0.01]))

    img = np.zeros((size, size, 3), np.float32)
    upper_m = mask_of(size, [g["upper"]], tf)
    behind = mask_of(size, [g["tongue"], g["inner_collar"]], tf)
    img = over(img, shade(col["lining"], 0.75), behind)
    tongue_m = mask_of(size, [g["tongue"]], tf)
    img = over(img, col["lining"] if brand.name != "orbistar" else col["upper"], tongue_m * 0.9)
    img = over(img, col["upper"], upper_m)
    overlay_m = mask_of(size, [g["toe_cap"], g["heel"], g["eyestay"]], tf) * upper_m
    img = over(img, col["overlay"], overlay_m)
    if sil["foxing"]:
        img = over(img, col["midsole"], mask_of(size, [g["foxing"]], tf) * upper_m)
    if sil["heel_tab"]:
        img = over(img, col["mark"], mask_of(size, [g["heel_tab"]], tf) * upper_m)

    img = _side_mark(img, p, g, tf, upper_m, size)
    if sil["toe_perfs"]:
        img = _toe_perfs(img, sil, col, tf, k, upper_m, size)
    img, la = _side_seams_and_laces(img, p, g, tf, k, upper_m, rng, size)
    img, sole_m, flash_m = _side_sole(img, p, tf, k, rng, size)

    alpha = np.clip(upper_m + behind + tongue_m + sole_m + la[..., 3] / 255 + flash_m, 0, 1)
    for gx, gr, ga in p.glue:
        img = _glue_side(img, tf, sil, gx, gr, ga, size, alpha)

    # Volume: darker toward the ground and the back, grain, creases, dust.
    inv = np.linalg.inv(tf.m)
    yy, xx = grid(size)
    local_y = inv[1, 0] * (xx - tf.b[0]) + inv[1, 1] * (yy - tf.b[1])
    vol = 0.8 + 0.3 * np.clip(local_y / sil["collar_h"], 0, 1)
    img = img * vol[..., None] * grain(rng, size, size / 9, 0.08)
    img = _creases(img, tf, sil, col, p.wear, rng, size)
    img = dust(img, alpha, rng, p.dust, size)
    return np.clip(img, 0, 255), alpha


def _side_mark(img, p, g, tf, upper_m, size):
    """The mark, clipped to the quarter panel (never over the eyestay or toe cap)."""
    sil, brand = p.sil, p.brand
    ms = brand.mark_side
    cx = ms["x"] + p.mark_pose[0]
    top = float(_sole_heights(sil, cx)[2])
    lace_y = float(np.interp(cx, g["eyestay_edge"][:, 0], g["eyestay_edge"][:, 1]))
    y_lo = top + (0.03 if sil["foxing"] else 0.008)
    y_hi = lace_y if cx > sil["throat_x"] - 0.02 else sil["collar_h"] - sil["collar_dip"]
    cy = y_lo + (y_hi - y_lo) * ms["y"] + p.mark_pose[1]
    msize = ms["size"] * p.mark_pose[3]
    mark_polys = [similar(q, msize, p.mark_pose[2], (cx, cy))
                  for q in marks.shapes(brand.mark, p.mark_geom)]
    quarter = upper_m * (1 - mask_of(size, [g["eyestay"], g["toe_cap"]], tf))
    mark_m = mask_of(size, mark_polys, tf) * quarter
    return over(img, p.mark_colour, mark_m)


def _toe_perfs(img, sil, col, tf, k, upper_m, size):
    perf = Image.new("L", (size, size), 0)
    dp = ImageDraw.Draw(perf)
    for i in range(4):
        for j in range(3):
            x = 0.865 + 0.028 * i
            y = float(_sole_heights(sil, x)[2]) + 0.03 + 0.022 * j
            q = tf(np.array([[x, y]]))[0]
            r = max(0.6, 0.0035 * k)
            dp.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=255)
    return over(img, shade(col["overlay"], 0.45), np.asarray(perf, np.float32) / 255 * upper_m)


def _side_seams_and_laces(img, p, g, tf, k, upper_m, rng, size):
    """Panel edges and stitching, clipped to the upper, then the laces; (image, lace layer)."""
    sil, col, brand = p.sil, p.colours, p.brand
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    edge = shade(col["overlay"], 0.6) + (200,)
    ew = max(1, round(0.003 * k))
    for seam in (g["toe_seam"], g["heel_seam"], g["eyestay_edge"]):
        d.line(poly_xy(tf(seam)), fill=edge, width=ew)
    st = brand.stitch
    thread = col["thread"]
    f = side_scale(p.strength or 0.0, "stitch")
    flaws = replace(p.flaws, wavy=p.flaws.wavy * f, uneven=p.flaws.uneven * f,
                    irregular=p.flaws.irregular * f)
    _stitch_rows(d, tf, g["toe_seam"], -0.012, st, flaws, rng, upper_m, thread)
    _stitch_rows(d, tf, g["heel_seam"], 0.012, st, flaws, rng, upper_m, thread)
    _stitch_rows(d, tf, g["eyestay_edge"], 0.012, st, flaws, rng, upper_m, thread)
    _stitch_rows(d, tf, g["collar"], -0.016, dict(st, rows=1), flaws, rng, upper_m, thread)
    if sil["foxing"]:
        _stitch_rows(d, tf, g["foxing_top"], -0.01, dict(st, rows=1), flaws, rng, upper_m, thread)
    la = np.asarray(layer, np.float32)
    img = over_image(img, la[..., :3], la[..., 3] / 255 * upper_m)
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    _laces(ImageDraw.Draw(layer), tf, g, sil, col, k)
    la = np.asarray(layer, np.float32)
    return over_image(img, la[..., :3], la[..., 3] / 255), la


def _side_sole(img, p, tf, k, rng, size):
    """The sole on top of the upper's lower edge; (image, sole mask, moulding-flash mask)."""
    sil, col = p.sil, p.colours
    rough = p.rough * side_scale(p.strength or 0.0, "rough_edges")
    sole_poly = sole_outline(sil, rough, rng)
    sole_m = mask_of(size, [sole_poly], tf)
    xs = np.linspace(-0.02, 1.02, 80)
    ground, mid, _ = _sole_heights(sil, xs)
    outsole = np.vstack([np.stack([xs, ground - 0.01], 1), np.stack([xs[::-1], mid[::-1]], 1)])
    out_m = mask_of(size, [outsole], tf) * sole_m
    img = over(img, col["midsole"], sole_m)
    img = over(img, col["outsole"], out_m)
    flash_m = 0.0
    if rough > 0:
        img, flash_m = _flash(img, tf, sil, rough, col["midsole"], rng, size)
    groove = Image.new("L", (size, size), 0)
    dg = ImageDraw.Draw(groove)
    line = np.stack([xs, mid + sil["sole_h"] * 0.35], 1)
    dg.line(poly_xy(tf(line)), fill=110, width=max(1, round(0.0025 * k)))
    for x in np.arange(0.0, 1.0, 0.025):
        gy = float(_sole_heights(sil, x)[0])
        dg.line(poly_xy(tf(np.array([[x, gy - 0.01], [x, gy + sil["outsole_h"] * 0.45]]))),
                fill=200, width=max(1, round(0.004 * k)))
    gm = np.asarray(groove, np.float32) / 255 * sole_m
    return over(img, (25, 25, 25), gm * 0.5), sole_m, flash_m


def _laces(d, tf, g, sil, col, k):
    lace = g["lace"]
    n = sil["eyelets"]
    nrm = normals(lace)
    idx = np.linspace(0.06, 0.92, n) * (len(lace) - 1)
    lw = max(1, round(0.011 * k))
    dark = shade(col["lace"], 0.55) + (255,)
    fill = tuple(col["lace"]) + (255,)
    ring = shade(col["overlay"], 0.5) + (255,)
    pts = []
    for f in idx:
        i = int(f)
        eyelet = lace[i] - nrm[i] * 0.022
        pts.append((i, eyelet))
    for _, e in pts:
        q = tf(np.array([e]))[0]
        r = max(1.0, 0.008 * k)
        d.ellipse([q[0] - r, q[1] - r, q[0] + r, q[1] + r], fill=ring)
    for j, (i, e) in enumerate(pts):
        tgt = lace[min(len(lace) - 1, i + 5)] + nrm[min(len(lace) - 1, i + 5)] * 0.012
        seg = tf(np.array([e, tgt]))
        d.line(poly_xy(seg), fill=dark, width=lw + 2)
        d.line(poly_xy(seg), fill=fill, width=lw)
        if j == 0:
            # Loose lace ends falling from the throat.
            root = lace[i] + nrm[i] * 0.015
            for dx, drop in ((-0.035, 0.1), (0.01, 0.08)):
                end = catmull_rom([root, root + np.array([dx * 0.5, 0.01]),
                                   root + np.array([dx, -drop])], 6)
                d.line(poly_xy(tf(end)), fill=dark, width=lw + 2)
                d.line(poly_xy(tf(end)), fill=fill, width=lw)


def _creases(img, tf, sil, col, wear, rng, size):
    n = int(1 + wear * 4)
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    for _ in range(n):
        x = rng.uniform(sil["vamp_x"] - 0.02, sil["toe_cap_x"] - 0.02)
        top = float(_sole_heights(sil, x)[2])
        y0, y1 = top + sil["toe_h"] * 0.35, top + sil["toe_h"] * rng.uniform(0.8, 1.0)
        pts = catmull_rom([(x, y0), (x + 0.012, (y0 + y1) / 2), (x + 0.006, y1)], 6)
        d.line(poly_xy(tf(pts)), fill=int(rng.uniform(60, 130)), width=max(1, round(size / 300)))
    m = blur(np.asarray(layer, np.float32) / 255, 0.6)
    return over(img, shade(col["upper"], 0.6), m)


def _glue_side(img, tf, sil, x, r, a, size, within):
    top = float(_sole_heights(sil, x)[2])
    c = tf(np.array([[x, top + r * 0.25]]))[0]
    rx, ry = r * tf.scale * 1.7, r * tf.scale * 0.75
    layer = Image.new("L", (size, size), 0)
    ImageDraw.Draw(layer).ellipse([c[0] - rx, c[1] - ry, c[0] + rx, c[1] + ry], fill=255)
    return stain(img, np.asarray(layer, np.float32) / 255, a, max(0.5, ry * 0.25), within)


def _flash(img, tf, sil, rough, colour, rng, size):
    """Excess sole material left at the edge: small slivers sticking out."""
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    for _ in range(2 + int(rough * 400)):
        x = rng.uniform(0.03, 0.97)
        top = float(_sole_heights(sil, x)[2])
        w = rng.uniform(0.005, 0.014)
        h = rough * rng.uniform(1.5, 3.2)
        d.polygon(poly_xy(tf(np.array([(x - w, top - 0.002), (x + w, top - 0.002),
                                       (x + rng.uniform(-w, w), top + h)]))), fill=255)
    m = np.asarray(layer, np.float32) / 255
    return over(img, shade(colour, 0.93), m), m
