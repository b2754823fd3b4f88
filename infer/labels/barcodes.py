"""Decode the retail barcode on a label photo (zxing-cpp): the GTIN the bars carry.

The digits printed under a barcode are a few pixels high in a photo of a whole box label, and
the text reader often misses them; the bars are large and decode where the print does not. A
decoded EAN-13 or UPC-A has passed its own check digit, so it is either read right or not at
all. Only retail formats are decoded: the other bars on a Nike size tag (an ITF of a factory
number) are no GTIN.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

# Longest side of the copy the bars are looked for on: a box label's bars decode at this size,
# and a larger copy costs more than it finds.
BARCODE_SIDE = 1600


@dataclass
class Barcode:
    gtin: str  # 14 digits, zero-padded, as `fields.Fields.gtin`
    format: str  # EAN13, UPCA, EAN8, UPCE
    box: list[list[float]]  # four corners in the photo's pixels, as `reader.Line.box`


def _formats():
    import zxingcpp

    formats = zxingcpp.BarcodeFormat
    return formats.EAN13 | formats.UPCA | formats.EAN8 | formats.UPCE


def read_barcodes(img: Image.Image) -> list[Barcode]:
    """The retail barcodes on `img`, each GTIN once, in the order found."""
    import zxingcpp

    scale = min(1.0, BARCODE_SIDE / max(img.size))
    small = img if scale == 1.0 else img.resize(
        (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
        Image.Resampling.BILINEAR, reducing_gap=2.0)
    found: list[Barcode] = []
    for code in zxingcpp.read_barcodes(small.convert("L"), formats=_formats(), try_rotate=True,
                                       try_downscale=True):
        digits = "".join(c for c in code.text if c.isdigit())
        if not code.valid or not 8 <= len(digits) <= 14:
            continue
        p = code.position
        corners = [[round(q.x / scale, 1), round(q.y / scale, 1)]
                   for q in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
        found.append(Barcode(digits.zfill(14), code.format.name, corners))
    # A blurred barcode can also decode, along a few scan lines, to another number whose check
    # digit happens to pass: of two decodes where one barcode is, the one that spans more of it.
    kept: list[Barcode] = []
    for code in sorted(found, key=lambda c: -_area(c.box)):
        if not any(_overlap(code.box, k.box) for k in kept):
            kept.append(code)
    return kept


def _extent(box):
    xs, ys = [x for x, _ in box], [y for _, y in box]
    return min(xs), min(ys), max(xs), max(ys)


def _area(box) -> float:
    x0, y0, x1, y1 = _extent(box)
    return (x1 - x0 + 1) * (y1 - y0 + 1)


def _overlap(a, b) -> bool:
    """Whether two decodes are of one barcode: their centres closer than the larger's diagonal."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = _extent(a), _extent(b)
    reach = max(((ax1 - ax0) ** 2 + (ay1 - ay0) ** 2), ((bx1 - bx0) ** 2 + (by1 - by0) ** 2)) ** 0.5
    distance = (((ax0 + ax1) - (bx0 + bx1)) ** 2 + ((ay0 + ay1) - (by0 + by1)) ** 2) ** 0.5 / 2
    return distance < reach
