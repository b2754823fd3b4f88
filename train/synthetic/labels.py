"""Printed labels: the size tag inside the tongue and the sticker on the shoe box.

A label is a list of lines, each with its own box, typeface and placement, so that counterfeit
flaws (typo, foreign typeface, misaligned line, ink bleed, wrong country) are edits of single
lines and everything else stays as the brand prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw

from . import marks
from .raster import Affine, fit_text_size, font, poly_xy

# EAN "L" patterns: enough to draw a plausible barcode for any digit string.
_EAN = ("0001101", "0011001", "0010011", "0111101", "0100011",
        "0110001", "0101111", "0111011", "0110111", "0001011")


@dataclass(frozen=True)
class Line:
    key: str
    text: str
    font: str
    box: tuple  # x0, y0, x1, y1 as fractions of the label
    align: str = "center"
    size_text: str = ""  # the genuine text, so a typo or foreign font does not resize the line
    dx: float = 0.0  # misplacement, fraction of label width
    dy: float = 0.0  # fraction of line height
    angle: float = 0.0


@dataclass(frozen=True)
class Print:
    lines: tuple
    bg: tuple
    ink: tuple
    bleed: float = 0.0  # ink spread, fraction of text height
    rules: tuple = ()  # horizontal rules (y fractions), part of a brand's tag design

    def edit(self, key: str, **changes) -> Print:
        return replace(self, lines=tuple(
            replace(ln, **changes) if ln.key == key else ln for ln in self.lines))

    def get(self, key: str) -> Line:
        return next(ln for ln in self.lines if ln.key == key)


def tag_layout(brand, texts: dict) -> Print:
    """Tongue tag, portrait: wordmark, two size rows, style code, made-in line, date."""
    t = brand.tag
    al = t["align"]
    x0, x1 = (0.08, 0.92)
    rows = [("wordmark", 0.05, 0.2), ("size_a", 0.27, 0.38), ("size_b", 0.41, 0.52),
            ("style", 0.57, 0.66), ("made", 0.71, 0.82), ("date", 0.86, 0.93)]
    lines = []
    for key, y0, y1 in rows:
        bx0 = x0 + (0.2 if key == "wordmark" and al == "left" else 0.0)
        lines.append(Line(key, texts[key], brand.font, (bx0, y0, x1, y1), al, texts[key]))
    if al == "left":
        lines.append(Line("icon", "", brand.font, (x0, 0.05, x0 + 0.16, 0.2)))
    rules = (0.235, 0.545) if t["grid"] else ()
    return Print(tuple(lines), t["bg"], t["ink"], rules=rules)


def box_layout(brand, texts: dict) -> Print:
    """Box end sticker, landscape; brands differ in where the size block sits."""
    cells = ("us", "uk", "eur", "cm")
    if brand.box["grid"] == "row":
        spec = [("wordmark", (0.05, 0.04, 0.6, 0.2), "left"),
                ("model", (0.05, 0.21, 0.6, 0.3), "left"),
                ("style", (0.63, 0.1, 0.95, 0.22), "right"),
                ("barcode", (0.52, 0.61, 0.95, 0.8), "center"),
                ("made", (0.05, 0.83, 0.95, 0.95), "left")]
        for i, c in enumerate(cells):
            x0, x1 = 0.05 + i * 0.225, 0.05 + i * 0.225 + 0.2
            spec += [(c + "_h", (x0, 0.34, x1, 0.42), "center"),
                     (c + "_v", (x0, 0.43, x1, 0.57), "center")]
        rules = (0.32, 0.59)
    else:
        spec = [("wordmark", (0.05, 0.05, 0.55, 0.22), "left"),
                ("model", (0.05, 0.26, 0.55, 0.36), "left"),
                ("style", (0.05, 0.4, 0.55, 0.5), "left"),
                ("made", (0.05, 0.55, 0.58, 0.66), "left"),
                ("barcode", (0.05, 0.71, 0.7, 0.95), "center")]
        for i, c in enumerate(cells):
            y0 = 0.05 + i * 0.15
            spec += [(c + "_h", (0.64, y0 + 0.02, 0.76, y0 + 0.12), "left"),
                     (c + "_v", (0.78, y0, 0.95, y0 + 0.13), "left")]
        rules = ()
    template = {c + "_v": "44.5" for c in cells} | {c + "_h": "EUR" for c in cells}
    lines = tuple(Line(k, texts[k], brand.font, b, a, template.get(k, texts[k]))
                  for k, b, a in spec)
    return Print(lines, (247, 247, 244), (20, 20, 20), rules=rules)


def _barcode(d: ImageDraw.ImageDraw, digits: str, box, fnt_name: str, ink) -> None:
    x0, y0, x1, y1 = box
    bits = "101" + "".join(_EAN[int(c)] for c in digits if c.isdigit()) + "101"
    bar_h = (y1 - y0) * 0.74
    unit = (x1 - x0) / len(bits)
    for i, b in enumerate(bits):
        if b == "1":
            d.rectangle([x0 + i * unit, y0, x0 + (i + 1) * unit - 0.01, y0 + bar_h], fill=ink)
    ft = font(fnt_name, (y1 - y0) * 0.2)
    d.text(((x0 + x1) / 2, y1), digits, font=ft, fill=ink, anchor="md")


def _text_image(ln: Line, w: int, h: int, brand_font: str):
    """The line's ink as an "L" image, the box it was fitted to, and the four corners (TL, TR,
    BR, BL) of the printed text inside that image."""
    bw = (ln.box[2] - ln.box[0]) * w
    bh = (ln.box[3] - ln.box[1]) * h
    size = fit_text_size(ln.size_text or ln.text, brand_font, bw, bh)
    ft = font(ln.font, size)
    x0, y0, x1, y1 = ft.getbbox(ln.text)
    pad = int(size * 0.4) + 2
    im = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    ImageDraw.Draw(im).text((pad - x0, pad - y0), ln.text, font=ft, fill=255)
    quad = np.array([[pad, pad], [pad + x1 - x0, pad], [pad + x1 - x0, pad + y1 - y0],
                     [pad, pad + y1 - y0]], np.float64)
    if ln.angle:
        im, turned = rotate(im, ln.angle, {"line": quad})
        quad = turned["line"]
    return im, bw, bh, quad


def rotated_points(points: np.ndarray, size: tuple, angle: float, new_size: tuple) -> np.ndarray:
    """Where `points` (x, y in pixels) of an image of `size` (w, h) land after PIL's
    `rotate(angle, expand=True)`, which turns it counter-clockwise about its centre and centres
    it in `new_size`, the rotated image's size."""
    t = np.deg2rad(angle)
    c, s = np.cos(t), np.sin(t)
    dx, dy = points[:, 0] - size[0] / 2, points[:, 1] - size[1] / 2
    return np.column_stack([new_size[0] / 2 + dx * c + dy * s, new_size[1] / 2 - dx * s + dy * c])


def rotate(im: Image.Image, angle: float, quads: dict) -> tuple[Image.Image, dict]:
    """`im` turned by `angle` degrees (bilinear, expanded), and `quads`' corners with it."""
    out = im.rotate(angle, resample=Image.BILINEAR, expand=True)
    return out, {k: rotated_points(q, im.size, angle, out.size) for k, q in quads.items()}


def render(p: Print, w: int, h: int, brand, quads: dict | None = None) -> Image.Image:
    """The label as an RGBA image of w x h pixels (ink on its background colour).

    `quads`, when given, receives the corners (TL, TR, BR, BL, in label pixels) of each text
    line's printed text, by line key: where a reader has to look."""
    base = Image.new("RGBA", (w, h), tuple(p.bg) + (255,))
    ink_mask = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(ink_mask)
    for y in p.rules:
        d.line([(w * 0.06, y * h), (w * 0.94, y * h)], fill=255, width=max(1, round(h * 0.006)))
    for ln in p.lines:
        bx0, by0, bx1, by1 = ln.box[0] * w, ln.box[1] * h, ln.box[2] * w, ln.box[3] * h
        if ln.key == "barcode":
            _barcode(d, ln.text, (bx0, by0, bx1, by1), ln.font, 255)
            continue
        if ln.key == "icon":
            s = min(bx1 - bx0, by1 - by0)
            tf = Affine(s, 0, ((bx0 + bx1) / 2, (by0 + by1) / 2))
            for poly in marks.shapes(brand.mark, marks.BASE[brand.mark] | {"irregular": np.zeros(8)}):
                d.polygon(poly_xy(tf(poly)), fill=255)
            continue
        im, bw, bh, quad = _text_image(ln, w, h, brand.font)
        cy = (by0 + by1) / 2 + ln.dy * bh
        if ln.align == "left":
            x = bx0 - im.width * 0.02
        elif ln.align == "right":
            x = bx1 - im.width
        else:
            x = (bx0 + bx1) / 2 - im.width / 2
        x += ln.dx * w
        at = (int(round(x)), int(round(cy - im.height / 2)))
        ink_mask.paste(255, at, im)
        if quads is not None:
            quads[ln.key] = quad + np.array(at, np.float64)
    a = np.asarray(ink_mask, np.float32) / 255.0
    if p.bleed > 0:
        # Ink wicking into fabric: letters swell and their edges go soft.
        sigma = max(0.6, p.bleed * h * 0.1)
        k = max(1, int(round(sigma * 0.8))) * 2 + 1
        swollen = cv2.dilate(a, np.ones((k, k), np.float32)) * 0.55
        a = np.clip(np.maximum(a, cv2.GaussianBlur(swollen, (0, 0), sigma))
                    + cv2.GaussianBlur(a, (0, 0), sigma * 0.6) * 0.4, 0, 1)
    rgb = np.asarray(base, np.float32)[..., :3]
    rgb = rgb * (1 - a[..., None]) + np.asarray(p.ink, np.float32) * a[..., None]
    out = np.dstack([rgb, np.full((h, w), 255.0, np.float32)])
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "RGBA")
