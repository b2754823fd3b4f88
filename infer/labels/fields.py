"""Fields of a shoe label, parsed from the lines a text reader found on one photo.

Formats are the brands' own: Nike and Jordan style codes `NNNNNN-NNN` or `AANNNN-NNN` (boxes
print them without the dash), adidas article numbers (`B37571`, `GX1234`), the two production
dates of a Nike size tag (MM/DD/YY), a UPC-A or EAN-13 under the barcode (tags print it as 14
digits, zero-padded), sizes marked US / UK / EUR / CM, the "made in" line in the usual languages,
and on a box label the colourway and the model name.

Everything here is plain text handling, so a liaison can read what counts as a field and a test
can pin every format; the checks that compare fields live in `infer.labels.checks`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from difflib import SequenceMatcher

# "Made in" in the languages printed on shoe labels, and country names to one English spelling.
MADE_IN = re.compile(
    r"(?:MADE\s*IN|FABRIQU[EÉ]\s*(?:EN|AU|AUX)|HECHO\s*EN|FABRICADO\s*EN|FABBRICATO\s*IN|"
    r"HERGESTELLT\s*IN|FEITO\s*(?:NO|NA|EM)|GEMAAKT\s*IN|WYPRODUKOWANO\s*W)\s*[:.]?\s*([A-ZÀ-Ý][A-ZÀ-Ý .]{1,20})")
COUNTRIES = {
    "CHINA": ("CHINA", "CHINE", "CINA", "CHINY", "P.R.C", "PRC"),
    "VIETNAM": ("VIETNAM", "VIET NAM", "VIỆT NAM", "VIETNAME", "WIETNAM"),
    "INDONESIA": ("INDONESIA", "INDONESIE", "INDONÉSIE", "INDONEZJA", "INDONESIEN"),
    "INDIA": ("INDIA", "INDE", "INDIEN", "INDIE"),
    "THAILAND": ("THAILAND", "THAILANDE", "THAÏLANDE", "TAILANDIA", "TAJLANDIA"),
    "CAMBODIA": ("CAMBODIA", "CAMBODGE", "CAMBOYA", "KAMBODSCHA", "KAMBODZA"),
    "MYANMAR": ("MYANMAR", "BURMA", "BIRMANIE"),
    "BANGLADESH": ("BANGLADESH",),
    "PAKISTAN": ("PAKISTAN",),
    "TAIWAN": ("TAIWAN",),
    "KOREA": ("KOREA", "COREE", "CORÉE", "COREA"),
    "BRAZIL": ("BRAZIL", "BRESIL", "BRÉSIL", "BRASIL", "BRASILIEN"),
    "ITALY": ("ITALY", "ITALIE", "ITALIA", "ITALIEN"),
    "PORTUGAL": ("PORTUGAL",),
    "USA": ("USA", "U.S.A", "UNITED STATES", "ETATS-UNIS", "ESTADOS UNIDOS"),
}
# ISO 3166 codes, as parcel records write the dispatch country (alpha-2 and alpha-3).
ISO_CODES = {"CN": "CHINA", "CHN": "CHINA", "HK": "CHINA", "HKG": "CHINA", "VN": "VIETNAM", "VNM": "VIETNAM",
             "ID": "INDONESIA", "IDN": "INDONESIA", "IN": "INDIA", "IND": "INDIA", "TH": "THAILAND",
             "THA": "THAILAND", "KH": "CAMBODIA", "KHM": "CAMBODIA", "MM": "MYANMAR", "MMR": "MYANMAR",
             "BD": "BANGLADESH", "BGD": "BANGLADESH", "PK": "PAKISTAN", "PAK": "PAKISTAN", "TW": "TAIWAN",
             "TWN": "TAIWAN", "KR": "KOREA", "KOR": "KOREA", "BR": "BRAZIL", "BRA": "BRAZIL", "IT": "ITALY",
             "ITA": "ITALY", "PT": "PORTUGAL", "PRT": "PORTUGAL", "US": "USA"}
# The English phrase with its words run together or a letter misread (MADEINCHINA, MADEHCHINA).
LOOSE_MADE_IN = re.compile(r"MADE([A-Z1]{4,14})")
# "Made in China" and its neighbours as printed in Chinese (制造 / 製造 / 产 / 製).
MADE_IN_CHINESE = {"中国": "CHINA", "越南": "VIETNAM", "印度尼西亚": "INDONESIA", "印尼": "INDONESIA",
                   "印度": "INDIA", "泰国": "THAILAND", "柬埔寨": "CAMBODIA", "缅甸": "MYANMAR"}
CHINESE_MADE = re.compile(r"(中国|越南|印度尼西亚|印尼|印度|泰国|柬埔寨|缅甸)\s*(?:制造|製造|生产|产|製)")

NIKE_STYLE = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d{4}|\d{6})\s?[-–—]?\s?(\d{3})(?![0-9])")
ADIDAS_STYLE = re.compile(r"(?<![A-Z0-9])([A-Z]{1,2}\d{4,5})(?![A-Z0-9])")
DATE = re.compile(r"(?<!\d)(\d{2})\s?[/.]\s?(\d{2})\s?[/.]\s?(\d{2})(?!\d)")
# Where a date touches a style code with no space between: the gap to open.
GLUED_DATE = re.compile(r"(?<=\d{6}[-–—]\d{3})(?=\d{2}/\d{2}/\d{2}(?!\d))|(?<=\d{2}/\d{2}/\d{2})(?=\d{6}[-–—]?\d{3})")
DIGIT_RUN = re.compile(r"(?<!\d)(\d[\d ]{10,17}\d)(?!\d)")
SIZE = {
    "us": re.compile(r"(?<![A-Z])US\s*(?:MEN'?S|M|W|WMNS)?\s*(\d{1,2}(?:[.,]5)?\s?[YCK]?)(?![\d./])"),
    "uk": re.compile(r"(?<![A-Z])UK\s*(\d{1,2}(?:[.,]5)?)(?![\d./])"),
    "eur": re.compile(r"(?<![A-Z])EUR?\s*(\d{2}(?:[.,]5)?(?:\s?[12]/3)?)(?![\d./])"),
    "cm": re.compile(r"(?<![A-Z])CM\s*(\d{2}(?:[.,]5)?)(?![\d./])"),
}
COLOURWAY = re.compile(r"\b([A-Z]{2,}(?: [A-Z]{2,})*\s?/\s?[A-Z ]{2,}(?:-[A-Z ]{2,})*)\b")
MODEL_WORDS = ("AIR JORDAN", "JORDAN", "AJ1", "AIR FORCE", "DUNK", "AIR MAX", "BLAZER", "SUPERSTAR",
               "STAN SMITH", "SAMBA", "GAZELLE", "CAMPUS", "FORUM", "ULTRABOOST", "YEEZY")


@dataclass
class Fields:
    """What one photo's label says; None / empty where the photo does not show it."""

    made_in: str | None = None
    style_code: str | None = None
    production_dates: list[str] = field(default_factory=list)  # ISO dates, in reading order
    gtin: str | None = None  # 14 digits, zero-padded (a UPC-A or EAN-13 as printed)
    gtin_check_digit_ok: bool | None = None
    barcode: str | None = None  # the GTIN its bars decode to, 14 digits (`barcodes`), if any
    sizes: dict[str, str] = field(default_factory=dict)  # us / uk / eur / cm
    colourway: str | None = None
    model_name: str | None = None
    brand: str | None = None  # what the label itself says: a brand name, or a Nike style code

    def to_dict(self) -> dict:
        return asdict(self)

    def empty(self) -> bool:
        """Nothing a label check could use (a brand name alone is no label)."""
        return not any(v for k, v in asdict(self).items() if k != "brand")


def dispatch_country(value: str | None) -> str | None:
    """A parcel record's dispatch country in the spelling the labels are read in: an ISO code
    (CN, VNM) or a name in any of the usual languages; a country outside the list stays as
    written, upper-cased (a label never reads it, so it never agrees by accident)."""
    text = (value or "").strip().upper()
    if not text:
        return None
    return ISO_CODES.get(text) or country(text) or text


def country(name: str, lenient: bool = False) -> str | None:
    """One English spelling for a country as printed in any of the usual languages. `lenient`:
    also a near miss of a spelling (one letter in five wrong, as a reader misreads small print:
    CHENA, CHNA), but never a different country."""
    cleaned = re.sub(r"[^A-ZÀ-Ý ]", " ", name.upper()).strip()
    squeezed = cleaned.replace(" ", "")
    for canonical, spellings in COUNTRIES.items():
        for s in spellings:
            token = re.sub(r"[^A-ZÀ-Ý ]", " ", s).strip()
            if cleaned.startswith(token) or squeezed.startswith(token.replace(" ", "")):
                return canonical
    if not lenient or len(squeezed) < 4:
        return None
    scores = {}
    for canonical, spellings in COUNTRIES.items():
        for s in spellings:
            token = re.sub(r"[^A-Z]", "", s)
            if len(token) >= 4:
                head = squeezed[: len(token)]
                scores[(canonical, token)] = SequenceMatcher(None, head, token).ratio()
    (best, _), ratio = max(scores.items(), key=lambda kv: kv[1])
    rivals = {c for (c, _), r in scores.items() if r >= ratio - 0.05}
    return best if ratio >= 0.8 and len(rivals) == 1 else None


MADE_IN_REMNANTS = frozenset({"MADE", "ADE", "DE", "E", "IN", "EIN", "DEIN", "NI", "IM", "MADEIN"})


def bare_country(lines: list[str]) -> str | None:
    """A line that is a country's name alone, or its end (HINA, HINE where the reader lost the
    first letter): on a tag whose other print was read, the "made in" line with its first words
    cut off or read as a line of their own."""
    for line in lines:
        words = line.upper().split()
        # "EIN CHINA", "IN VIETNAM": the rest of a "made in" whose first letters were lost.
        if len(words) > 1 and all(w in MADE_IN_REMNANTS for w in words[:-1]):
            words = words[-1:]
        word = re.sub(r"[^A-ZÀ-Ý]", "", "".join(words))
        if len(word) < 4:
            continue
        ends = {canonical for canonical, spellings in COUNTRIES.items() for spelling in spellings
                if (token := re.sub(r"[^A-ZÀ-Ý]", "", spelling)) == word
                or (len(token) - len(word) == 1 and token.endswith(word))}
        if len(ends) == 1:
            return ends.pop()
    return None


def made_in(text: str) -> str | None:
    """The country of the first "made in" phrase (any language) that names one; a phrase the
    reader garbled is still matched when its country is a near miss."""
    flat = text.replace("\n", " ")
    for match in MADE_IN.finditer(flat):
        found = country(match.group(1), lenient=True)
        if found:
            return found
    for loose in LOOSE_MADE_IN.finditer(flat.replace(" ", "")):
        for skip in range(3):  # "IN" run in, misread as one letter, or lost
            found = country(loose.group(1)[skip:], lenient=True)
            if found:
                return found
    chinese = CHINESE_MADE.search(text)
    return MADE_IN_CHINESE[chinese.group(1)] if chinese else None


def gtin_check_digit_ok(digits: str) -> bool:
    """GS1 check digit of a UPC-A / EAN-13 / GTIN-14 (any length, the last digit checks)."""
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def production_date(mm: str, dd: str, yy: str) -> date | None:
    """A Nike tag's MM/DD/YY date, or None when it is no calendar date."""
    try:
        return date(2000 + int(yy), int(mm), int(dd))
    except ValueError:
        return None


def parse(lines: list[str], brand: str | None = None, boxes: list | None = None) -> Fields:
    """Fields of one photo from its text lines (in reading order). With `boxes` (each line's four
    corners), sizes printed as a table (a row of US / UK / EUR / CM over a row of numbers) are
    read by position as well."""
    text = "\n".join(line.upper() for line in lines)
    out = Fields()
    out.made_in = made_in(text)
    # A date printed against a code ("10/31/18CD6578-507", "555088-31111/15/18") is a separate token.
    text = GLUED_DATE.sub(" ", text)
    text = DATE.sub(lambda m: f" {m.group(0)} ", text)
    out.style_code = _style_code(text, brand)
    out.brand = _brand(text, out.style_code)
    out.production_dates = [d.isoformat() if d else "invalid" for d in
                            (production_date(*m.groups()) for m in DATE.finditer(text))][:2]
    out.gtin, out.gtin_check_digit_ok = _gtin(text)
    flat = text.replace("\n", " ")
    out.sizes = {k: v for k, rx in SIZE.items() if (m := rx.search(flat))
                 and plausible(k, v := m.group(1).replace(",", ".").replace(" ", ""))}
    if boxes is not None:
        out.sizes = {**table_sizes(lines, boxes), **out.sizes}
    # A label is known by its other print: a code, dates, a barcode number, or a size table.
    if out.made_in is None and (out.style_code or out.production_dates or out.gtin
                                or len(out.sizes) >= 2):
        out.made_in = bare_country(lines)
    for line in lines:
        upper = line.upper().strip()
        if out.colourway is None and (m := COLOURWAY.search(upper)) and not DATE.search(upper):
            out.colourway = re.sub(r"\s*/\s*", "/", m.group(1)).strip()
        if out.model_name is None and any(w in upper.replace(" ", "") for w in
                                          (m.replace(" ", "") for m in MODEL_WORDS)):
            out.model_name = upper
    return out


def _brand(text: str, style_code: str | None) -> str | None:
    squeezed = text.replace(" ", "").replace("\n", "")
    if "ADIDAS" in squeezed:
        return "adidas"
    if any(w in squeezed for w in ("NIKE", "JORDAN", "JUMPMAN")) or (style_code and NIKE_STYLE.fullmatch(style_code)):
        return "nike"
    return None


def _style_code(text: str, brand: str | None) -> str | None:
    """Nike's NNNNNN-NNN shape is its own and read whatever the brand. A code printed with its
    dash (tags) or with letters (AA3834 101) comes first; nine bare digits last, and never
    those starting 10 or 20: that is the production number Nike prints on every tag. An adidas
    article number looks like many other codes, so it needs the brand or the word adidas."""
    candidates = []
    for line in text.split("\n"):
        for m in NIKE_STYLE.finditer(line):
            code, separated = f"{m.group(1)}-{m.group(2)}", m.group(0)[6:7] in "-–— "
            lettered = m.group(1)[:2].isalpha()
            if not (separated or lettered) and m.group(1)[:2] in ("10", "20"):
                continue
            candidates.append((not separated, not lettered, code))
    if candidates:
        return min(candidates)[2]
    if brand == "adidas" or "ADIDAS" in text:
        adidas = ADIDAS_STYLE.search(text)
        if adidas:
            return adidas.group(1)
    return None


def _gtin(text: str) -> tuple[str | None, bool | None]:
    """The barcode number, as GTIN-14: 12-14 digits on one line (a UPC keyword's first), spaces
    allowed only in the printed grouping of a UPC-A (1 5 5 1) or EAN-13 (1 6 6)."""
    found = []
    for line in text.split("\n"):
        keyword = bool(re.search(r"UPC|EAN|GTIN", line))
        for match in DIGIT_RUN.finditer(line):
            run = match.group(1)
            digits = run.replace(" ", "")
            grouped = " " not in run or bool(re.fullmatch(r"\d ?\d{5} ?\d{5} ?\d|\d ?\d{6} ?\d{6}", run))
            # A GTIN-14 with an indicator digit other than 0 numbers a carton, never a shoe or
            # its box: 14 digits not starting with 0 are a misread (a UPC run into other print).
            consumer = len(digits) < 14 or digits.startswith("0")
            if len(digits) in (12, 13, 14) and grouped and consumer:
                found.append((not keyword, digits))
    if not found:
        return None, None
    digits = min(found, key=lambda f: f[0])[1]
    return digits.zfill(14), gtin_check_digit_ok(digits)


SIZE_HEADERS = {"US": "us", "USA": "us", "UK": "uk", "EUR": "eur", "EU": "eur", "EURO": "eur", "CM": "cm"}
SIZE_VALUE = re.compile(r"^\d{1,2}(?:[.,]5)?Y?$")


def _words(lines: list[str], boxes: list) -> list[tuple[str, float, float, float]]:
    """(word, x centre, y centre, line height) of every word, its x placed along its line's box
    by its character offset (a line's box is straight enough for that)."""
    out = []
    for text, box in zip(lines, boxes, strict=True):
        b = [[float(v) for v in p] for p in box]
        (x0, y0), (x1, y1), _, (x3, y3) = b[0], b[1], b[2], b[3]
        height = max(1.0, ((x3 - x0) ** 2 + (y3 - y0) ** 2) ** 0.5)
        n = max(1, len(text))
        for m in re.finditer(r"\S+", text.upper()):
            t = (m.start() + m.end()) / 2 / n
            out.append((m.group(0), x0 + t * (x1 - x0), y0 + t * (y1 - y0) + height / 2, height))
    return out


# What each size system can print: a number outside its range is a misread, not a size.
SIZE_RANGE = {"us": (1.0, 18.0), "uk": (1.0, 17.0), "eur": (30.0, 52.0), "cm": (18.0, 35.0)}


def plausible(key: str, value: str) -> bool:
    try:
        number = float(value.upper().rstrip("YCK").replace(",", ".").split()[0])
    except (ValueError, IndexError):
        return False
    low, high = SIZE_RANGE[key]
    return low <= number <= high and (number * 2).is_integer()


def table_sizes(lines: list[str], boxes: list) -> dict[str, str]:
    """Sizes printed as a table: under each header word, the nearest number that can be a
    size of that system."""
    words = _words(lines, boxes)
    values = [w for w in words if SIZE_VALUE.match(w[0])]
    sizes: dict[str, str] = {}
    for word, x, y, h in words:
        key = SIZE_HEADERS.get(word.strip(".:"))
        if key is None or key in sizes:
            continue
        below = [(abs(vx - x), v) for v, vx, vy, _ in values
                 if 0.3 * h < vy - y < 3.5 * h and abs(vx - x) < 2.5 * h and plausible(key, v)]
        if below:
            sizes[key] = min(below)[1].replace(",", ".")
    return sizes
