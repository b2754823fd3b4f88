"""How the inspector's phone sees a scene: parcel backgrounds, light, camera pose, blur, noise,
JPEG, and the odd finger or strip of tape in the frame.

Conditions are drawn per parcel (the surface it was opened on, the room's light) and jittered
per photo, so a model cannot key on a background or colour cast to tell parcels apart.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .raster import blur, catmull_rom, grid, over, over_image, poly_xy, value_noise

BACKGROUNDS = ("cardboard", "mailer", "woven", "table")


def sample_scene(rng: np.random.Generator) -> dict:
    kind = str(rng.choice(BACKGROUNDS))
    warm = rng.normal(0, 0.05)
    return dict(
        kind=kind,
        seed=int(rng.integers(2**31)),
        light_angle=float(rng.uniform(0, 2 * np.pi)),
        wb=(1 + warm, 1 + rng.normal(0, 0.015), 1 - warm),
        exposure=float(rng.uniform(0.88, 1.1)),
    )


def _rotated_uv(size: int, angle: float):
    yy, xx = grid(size)
    return xx * np.cos(angle) + yy * np.sin(angle), -xx * np.sin(angle) + yy * np.cos(angle)


def background(scene: dict, rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured surface: never flat, so 'object vs background' is not a colour threshold."""
    kind = scene["kind"]
    base_rng = np.random.default_rng(scene["seed"])  # same surface in every photo of a parcel
    broad = value_noise(rng, size, size, 3)
    if kind == "cardboard":
        colour = np.array([178, 138, 92]) * base_rng.uniform(0.85, 1.1)
        u, _ = _rotated_uv(size, base_rng.uniform(0, np.pi))
        flutes = 1 + 0.03 * np.sin(2 * np.pi * u / (size / rng.uniform(18, 30)))
        fibre = value_noise(rng, size, size, size / 4) - 0.5
        f = flutes * (0.88 + 0.2 * broad) * (1 + 0.08 * fibre)
    elif kind == "mailer":
        palette = [(205, 205, 210), (236, 236, 238), (45, 45, 50), (228, 170, 190), (60, 75, 120)]
        colour = np.array(palette[int(base_rng.integers(len(palette)))], np.float32)
        small = rng.random((4, 14)).astype(np.float32)
        wr = cv2.resize(small, (size * 2, size * 2), interpolation=cv2.INTER_CUBIC)
        m = cv2.getRotationMatrix2D((size, size), float(rng.uniform(0, 180)), 1.0)
        wr = cv2.warpAffine(wr, m, (size * 2, size * 2))[size // 2: size // 2 + size,
                                                         size // 2: size // 2 + size]
        ridge = 1 - np.abs(2 * (wr - wr.min()) / max(np.ptp(wr), 1e-6) - 1)
        f = (0.85 + 0.2 * broad) * (0.9 + 0.2 * ridge) + 0.35 * ridge**8
    elif kind == "woven":
        colour = np.array([(226, 226, 220), (200, 215, 235), (230, 220, 190)][
            int(base_rng.integers(3))], np.float32)
        u, v = _rotated_uv(size, base_rng.uniform(0, np.pi))
        period = size / rng.uniform(35, 55)
        a = np.sin(2 * np.pi * u / period)
        b = np.sin(2 * np.pi * v / period)
        weave = np.where((a > 0) ^ (b > 0), 0.5 + 0.5 * np.abs(a), 0.5 + 0.5 * np.abs(b))
        f = (0.85 + 0.2 * broad) * (0.85 + 0.2 * weave)
    else:  # table
        woods = [(150, 105, 65), (200, 165, 120), (182, 182, 178), (110, 75, 50)]
        colour = np.array(woods[int(base_rng.integers(len(woods)))], np.float32)
        u, v = _rotated_uv(size, base_rng.uniform(-0.3, 0.3))
        warp = value_noise(rng, size, size, 4) * 6
        grain = 0.5 + 0.5 * np.sin(2 * np.pi * v / (size / 22) + warp)
        f = (0.88 + 0.16 * broad) * (0.9 + 0.13 * grain)
    return colour[None, None].astype(np.float32) * f[..., None].astype(np.float32)


def compose(bg: np.ndarray, rgb: np.ndarray, alpha: np.ndarray, rng) -> np.ndarray:
    """Object over background with a soft contact shadow; `rgb` is premultiplied by alpha."""
    size = bg.shape[0]
    if alpha.min() >= 0.999:
        return rgb
    sh = blur(alpha, size * rng.uniform(0.01, 0.025))
    d = rng.uniform(0.004, 0.015) * size
    sh = np.roll(sh, (int(d), int(d * rng.uniform(-1, 1))), axis=(0, 1))
    out = bg * (1 - rng.uniform(0.3, 0.5) * sh)[..., None]
    return out * (1 - alpha[..., None]) + rgb


def occlude(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A finger holding the item, a flap of packing paper or a strip of tape, kept modest."""
    size = img.shape[0]
    kind = rng.choice(["finger", "paper", "tape"])
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    side = int(rng.integers(4))
    t = rng.uniform(0.15, 0.85) * size
    start = [(t, -5), (size + 5, t), (t, size + 5), (-5, t)][side]
    inward = np.array([(0, 1), (-1, 0), (0, -1), (1, 0)][side], np.float32)
    if kind == "finger":
        skin = [(224, 172, 140), (198, 134, 100), (141, 85, 55), (240, 200, 170)]
        colour = np.array(skin[int(rng.integers(len(skin)))], np.float32)
        length, width = rng.uniform(0.14, 0.26) * size, rng.uniform(0.08, 0.12) * size
        dirn = inward + rng.normal(0, 0.3, 2)
        dirn /= np.linalg.norm(dirn)
        tip = np.array(start) + dirn * length
        d.line([tuple(start), tuple(tip)], fill=255, width=int(width))
        d.ellipse([tip[0] - width / 2, tip[1] - width / 2, tip[0] + width / 2, tip[1] + width / 2],
                  fill=255)
        m = blur(np.asarray(layer, np.float32) / 255, size * 0.004)
        shading = 0.8 + 0.3 * blur(m, width * 0.25)
        img = img * (1 - 0.3 * np.clip(blur(m, size * 0.02) - m, 0, 1))[..., None]
        img = over_image(img, colour * shading[..., None], m)
        nail = tip - dirn * width * 0.3
        layer2 = Image.new("L", (size, size), 0)
        r = width * 0.28
        ImageDraw.Draw(layer2).ellipse([nail[0] - r, nail[1] - r, nail[0] + r, nail[1] + r],
                                       fill=255)
        return over(img, np.minimum(colour * 1.15, 255), np.asarray(layer2, np.float32) / 255 * 0.6)
    if kind == "paper":
        colour = np.array([(242, 240, 232), (190, 160, 120), (225, 225, 230)][int(rng.integers(3))],
                          np.float32)
        centre = np.array(start, np.float32)
        pts = [centre + inward * rng.uniform(0.05, 0.2) * size
               + np.array([-inward[1], inward[0]]) * rng.uniform(-0.2, 0.2) * size for _ in range(5)]
        pts = catmull_rom([centre - np.array([-inward[1], inward[0]]) * size * 0.25, *pts,
                           centre + np.array([-inward[1], inward[0]]) * size * 0.25], 4)
        d.polygon(poly_xy(np.vstack([pts, [centre - inward * 10]])), fill=255)
        m = blur(np.asarray(layer, np.float32) / 255, 1.0)
        crumple = 0.85 + 0.25 * value_noise(rng, size, size, 8, octaves=2)
        return over_image(img, colour * crumple[..., None], m)
    colour = np.array([(205, 170, 110), (235, 235, 225)][int(rng.integers(2))], np.float32)
    w = rng.uniform(0.06, 0.1) * size
    ang = rng.uniform(0, np.pi)
    c = rng.uniform(0.1, 0.9, 2) * size
    dv = np.array([np.cos(ang), np.sin(ang)]) * size * 1.5
    d.line([tuple(c - dv), tuple(c + dv)], fill=255, width=int(w))
    m = np.asarray(layer, np.float32) / 255
    return over(img, colour, m * rng.uniform(0.35, 0.6))


def _perspective(img: np.ndarray, rng, max_rot: float, max_skew: float):
    """The photo seen from a slightly tilted phone, and the homography that did it."""
    size = img.shape[0]
    src = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
    c = size / 2
    a = np.deg2rad(rng.uniform(-max_rot, max_rot))
    s = rng.uniform(0.96, 1.08)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) * s
    dst = (src - c) @ r.T + c + rng.uniform(-max_skew, max_skew, (4, 2)) * size
    h = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(img, h, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT_101), h


MAX_ROTATION = {"side": 8, "sole": 12, "box": 8, "logo": 20, "stitching": 20, "label": 10}


def photograph(rgb: np.ndarray, alpha: np.ndarray, view: str, scene: dict,
               rng: np.random.Generator, out_size: int, points: np.ndarray | None = None):
    """From a rendered scene to the JPEG bytes a phone would save, and where `points` (N x 2,
    x and y in the rendered scene's pixels) land in the photo (None without points).

    Renderers draw at a multiple of `out_size` and start from black, so their colours are
    already premultiplied by alpha: downsampling both gives antialiased edges, and everything
    after that runs at the output size.
    """
    scale = out_size / rgb.shape[0]
    if rgb.shape[0] != out_size:
        rgb = cv2.resize(rgb, (out_size, out_size), interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, (out_size, out_size), interpolation=cv2.INTER_AREA)
    img = compose(background(scene, rng, out_size), rgb, alpha, rng)
    if rng.random() < 0.18:
        img = occlude(img, rng)
    img, warp = _perspective(img, rng, MAX_ROTATION[view], 0.04)
    if points is not None:
        # cv2 maps pixel centres; `points` are continuous (a pixel's centre is at +0.5).
        centres = np.asarray(points, np.float64).reshape(-1, 1, 2) * scale - 0.5
        points = cv2.perspectiveTransform(centres, warp).reshape(-1, 2) + 0.5
    # Light: a directional falloff, some vignetting, exposure and white balance.
    yy, xx = grid(32)
    yy, xx = yy / 32 - 0.5, xx / 32 - 0.5
    ang = scene["light_angle"] + rng.normal(0, 0.4)
    grad = 1 + rng.uniform(0.08, 0.4) * (xx * np.cos(ang) + yy * np.sin(ang))
    vign = 1 - rng.uniform(0, 0.35) * (xx**2 + yy**2)
    wb = np.asarray(scene["wb"], np.float32) * (1 + rng.normal(0, 0.015, 3)).astype(np.float32)
    gain = scene["exposure"] * rng.uniform(0.92, 1.08)
    light = ((grad * vign * gain)[..., None] * wb[None, None]).astype(np.float32)
    img = img * cv2.resize(light, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.1:  # hand shake
        k = int(rng.integers(3, 6))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2] = 1.0 / k
        m = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), float(rng.uniform(0, 180)), 1)
        kern = cv2.warpAffine(kern, m, (k, k))
        img = cv2.filter2D(img, -1, kern / max(kern.sum(), 1e-6))
    img = blur(img, float(rng.uniform(0, 0.8)))
    # Sensor noise: mostly luminance, a little chroma.
    lum = rng.standard_normal(img.shape[:2], dtype=np.float32) * rng.uniform(1.0, 5.0)
    img += lum[..., None] + rng.standard_normal(img.shape, dtype=np.float32)
    out = Image.fromarray(np.clip(img + 0.5, 0, 255).astype(np.uint8), "RGB")
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=int(rng.integers(55, 96)))
    return buf.getvalue(), points
