"""Read the printed text on a photo: RapidOCR's PP-OCRv4 detector and recogniser (ONNX files
inside the `rapidocr-onnxruntime` wheel, run by the onnxruntime that serving already uses), and
the retail barcodes on the photos that carry print (`barcodes`).

Text is first looked for on a small copy of the photo (`DETECT_SIDE`), which is cheap and says
whether the photo carries print at all and where. Each cluster of print found there (a size tag,
a box label) is cut from the full photo, enlarged to `READ_SIDE` and read: detected again at
that scale, its lines turned upright (a tag photographed sideways or upside down reads the same)
and recognised. A photo without text costs one small detection.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from PIL import Image

from infer.labels.barcodes import Barcode, read_barcodes

DETECT_SIDE = 960  # longest side of the copy text is looked for on
READ_SIDE = 1280  # longest side a cluster of print is enlarged to before it is read
MAX_REGIONS = 3  # clusters read per photo (a tag and a box label can share a photo)
CLUSTER_GAP = 3.0  # in line heights: boxes closer than this form one cluster
REGION_MARGIN = 0.1  # of a cluster's longer side, kept around it when it is cut out
MIN_CONFIDENCE = 0.5  # recognised lines below this are dropped, as RapidOCR does by default

_lock = threading.Lock()
_engine = None


@dataclass
class Line:
    text: str
    confidence: float
    box: list[list[float]]  # four corners in the photo's pixels (after EXIF rotation), clockwise


@dataclass
class PhotoText:
    """What one photo says. `reason` explains an empty result (no text, unreadable file)."""

    lines: list[Line] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # the photo's width and height
    reason: str | None = None
    barcodes: list[Barcode] = field(default_factory=list)  # retail barcodes decoded (GTINs)

    def texts(self) -> list[str]:
        return [line.text for line in self.lines]

    def to_dict(self) -> dict:
        return asdict(self)


def engine():
    """The OCR engine, built once per process (its ONNX sessions are thread-safe to run)."""
    global _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as exc:  # pragma: no cover - a dependency of the base install
                raise ImportError("reading labels needs `rapidocr-onnxruntime` (pip install "
                                  "counterfeit-inspector)") from exc
            _engine = RapidOCR(print_verbose=False)
    return _engine


def _scaled(img: Image.Image, side: int) -> tuple[Image.Image, float]:
    """A copy with its longest side at most `side` (never enlarged), and the scale applied."""
    scale = min(1.0, side / max(img.size))
    if scale < 1.0:
        img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                         Image.Resampling.BILINEAR, reducing_gap=2.0)
    return img, scale


def _bgr(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])


def text_regions(img: Image.Image, side: int | None = None, most: int = MAX_REGIONS) -> list[tuple]:
    """Boxes (x0, y0, x1, y1, in the photo's pixels) around the clusters of print found on a
    small copy, largest first: a label is many lines close together."""
    small, scale = _scaled(img, side or DETECT_SIDE)
    boxes, _ = engine().text_det(_bgr(small))
    if boxes is None or len(boxes) == 0:
        return []
    mask = np.zeros((small.height, small.width), np.uint8)
    heights = []
    for box in boxes:
        quad = np.asarray(box, np.float32)
        cv2.fillPoly(mask, [quad.astype(np.int32)], 255)
        heights.append(min(np.linalg.norm(quad[0] - quad[3]), np.linalg.norm(quad[0] - quad[1])))
    # Lines of one label sit a few line heights apart at most; a watermark or a second label
    # further away is a cluster of its own.
    k = max(3, int(CLUSTER_GAP * float(np.median(heights))))
    count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(mask, np.ones((k, k), np.uint8)))
    found = sorted(((stats[i][4], stats[i][:4]) for i in range(1, count)), key=lambda a: -a[0])
    return [tuple(float(v) / scale for v in (x, y, x + w, y + h)) for _, (x, y, w, h) in found[:most]]


def read_large_print(img: Image.Image, side: int, min_confidence: float = MIN_CONFIDENCE) -> list[str]:
    """The lines of large print on `img`, read in one pass on a copy at most `side` pixels long,
    without turning lines upright: a caption across a picture, not the small print of a tag.
    About a third of the cost of `read_photo` on a shoe photo."""
    small, _ = _scaled(img, side)
    found, _ = engine()(_bgr(small), use_cls=False)
    return [str(text).strip() for _, text, confidence in found or []
            if str(text).strip() and float(confidence) >= min_confidence]


def read_photo(img: Image.Image, min_confidence: float = MIN_CONFIDENCE) -> PhotoText:
    """The lines printed on `img`, each region top to bottom and left to right. Each cluster of
    print is cut out with a margin and enlarged to `READ_SIDE` before it is read: the "made in"
    line of a size tag is a few pixels high in a photo of the whole tongue."""
    ocr = engine()
    out = PhotoText(size=img.size)
    regions = text_regions(img)
    if not regions:
        out.reason = "no printed text found"
        return out
    # A barcode is printed on a label, and a label has print: photos without are not searched.
    out.barcodes = read_barcodes(img)
    for x0, y0, x1, y1 in regions:
        margin = REGION_MARGIN * max(x1 - x0, y1 - y0)
        left, top = max(0.0, x0 - margin), max(0.0, y0 - margin)
        crop = img.crop((round(left), round(top), round(min(img.width, x1 + margin)),
                         round(min(img.height, y1 + margin))))
        factor = READ_SIDE / max(crop.size)
        crop = crop.resize((max(1, round(crop.width * factor)), max(1, round(crop.height * factor))),
                           Image.Resampling.BICUBIC)
        found, _ = ocr(_bgr(crop))
        for box, text, confidence in found or []:
            text = str(text).strip()
            if text and float(confidence) >= min_confidence:
                corners = [[round(left + x / factor, 1), round(top + y / factor, 1)] for x, y in box]
                out.lines.append(Line(text, round(float(confidence), 4), corners))
    if not out.lines and not out.barcodes:
        out.reason = "text found but not legible"
    return out
