"""One parcel: a single shoe (genuine or fake), everything physical about it, and which photos
the inspector takes. Drawn once per parcel so that all its photos show the same shoe."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from . import defects as dz
from . import labels, marks, stitches
from .brands import BRANDS, COUNTRIES, SIZES, TYPOS, Brand

BRAND_NAMES = tuple(BRANDS)
# The label lines a reader must get right, in the order of the manifest's `printed`.
PRINTED_LINES = ("wordmark", "made")


@dataclass
class Parcel:
    index: int
    parcel_id: str
    brand: Brand
    counterfeit: bool
    strength: float | None
    defects: tuple
    surfaces: dict  # label defect -> views where it is printed
    colours: dict
    mark_colour: tuple
    sil: dict
    mark_geom: dict
    mark_pose: tuple  # dx, dy (shoe lengths), angle (deg), scale
    flaws: stitches.Flaws
    tag: labels.Print
    box: labels.Print
    glue: tuple  # (x along the shoe, radius, opacity) per stain
    rough: float
    wear: float
    dust: float
    views: tuple = ()
    scene: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return "counterfeit" if self.counterfeit else "genuine"

    def printed(self, view: str) -> tuple:
        """The brand name and the "made in" line as this view's print reads them, typos and all:
        what a reader of the tag (`label`) or the box sticker (`box`) would have to get right."""
        pr = {"label": self.tag, "box": self.box}.get(view)
        return () if pr is None else tuple(pr.get(k).text for k in PRINTED_LINES)

    def visible(self, view: str) -> tuple:
        return tuple(d for d in self.defects
                     if view in dz.visible_views(d, self.strength or 0.0, self.surfaces.get(d, ())))


def _jitter_colour(c, rng, sd=0.025):
    f = 1 + rng.normal(0, sd) + rng.normal(0, sd / 3, 3)
    return tuple(int(np.clip(v * fv, 0, 255)) for v, fv in zip(c, f, strict=True))


def _code(fmt: str, cw_code: str, rng) -> str:
    letters = "ABCDEFGHJKMNPRSTVWXYZ"
    out = "".join(
        str(rng.choice(list(letters))) if ch == "L" else str(int(rng.integers(0, 10))) if ch == "D"
        else ch for ch in fmt)
    return out[:-3] + cw_code if fmt.endswith("-DDD") else out


def _misspell(word: str, rng) -> str:
    """A brand-name misspelling: swapped, dropped, doubled or substituted letter."""
    for _ in range(20):
        i = int(rng.integers(1, len(word) - 1))
        op = int(rng.integers(0, 4))
        if op == 0:
            w = word[:i] + word[i + 1] + word[i] + word[i + 2:]
        elif op == 1:
            w = word[:i] + word[i + 1:]
        elif op == 2:
            w = word[:i] + word[i] + word[i:]
        else:
            sub = {"A": "E", "E": "A", "I": "Y", "O": "U", "U": "O", "R": "P", "S": "Z", "T": "F",
                   "N": "M", "V": "W", "K": "X", "H": "N", "L": "I", "P": "R", "B": "D", "Z": "S"}
            w = word[:i] + sub.get(word[i], "E") + word[i + 1:]
        if w != word:
            return w
    return word[::-1]


def _texts(brand: Brand, size, country: str, style: str, model: str, rng) -> tuple[dict, dict]:
    us, uk, eur, cm = size
    month, year = int(rng.integers(1, 13)), int(rng.integers(19, 25))
    tag = dict(wordmark=brand.wordmark, size_a=f"US {us}   UK {uk}", size_b=f"EUR {eur}   CM {cm}",
               style=style, made=f"MADE IN {country}", date=f"{month:02d}/{year:02d}")
    digits = "".join(str(int(rng.integers(0, 10))) for _ in range(13))
    box = dict(wordmark=brand.wordmark, model=model, style=style, us_h="US", us_v=us, uk_h="UK",
               uk_v=uk, eur_h="EUR", eur_v=eur, cm_h="CM", cm_v=cm, made=f"MADE IN {country}",
               barcode=digits)
    return tag, box


def _typo(pr: labels.Print, brand: Brand, country: str, n: int, rng) -> labels.Print:
    targets = ["country", "made", "wordmark", "size"]
    picks = rng.choice(targets, size=n, replace=False, p=[0.4, 0.2, 0.25, 0.15])
    for t in picks:
        if t == "country":
            bad = str(rng.choice(TYPOS[country]))
            pr = pr.edit("made", text=f"MADE IN {bad}")
        elif t == "made":
            text = pr.get("made").text
            pr = pr.edit("made", text=text.replace("MADE IN", str(rng.choice(TYPOS["MADE IN"]))))
        elif t == "wordmark":
            pr = pr.edit("wordmark", text=_misspell(brand.wordmark, rng))
        else:
            key, word = ("size_b", "EUR") if any(ln.key == "size_b" for ln in pr.lines) else (
                str(rng.choice(["eur_h", "uk_h", "us_h"])), None)
            word = word or pr.get(key).text
            text = pr.get(key).text
            pr = pr.edit(key, text=text.replace(word, str(rng.choice(TYPOS[word])), 1))
    return pr


_TEXT_KEYS = ("wordmark", "size_a", "size_b", "style", "made", "date", "model", "us_h", "us_v",
              "uk_h", "uk_v", "eur_h", "eur_v", "cm_h", "cm_v")


def _print_tolerance(pr: labels.Print, rng) -> labels.Print:
    """Genuine print tolerance: lines a hair off, ink a little lighter or darker."""
    for k in (ln.key for ln in pr.lines if ln.key in _TEXT_KEYS):
        pr = pr.edit(k, dx=float(rng.normal(0, 0.004)))
    return _ink(pr, rng)


def _print_flaws(pr: labels.Print, defects, surface: str, surfaces: dict, brand: Brand,
                 country: str, s: float, rng) -> labels.Print:
    keys = [ln.key for ln in pr.lines if ln.key in _TEXT_KEYS]
    body = [k for k in keys if k != "wordmark"]
    here = [d for d in defects if surface in surfaces.get(d, ())]
    if "label_typo" in here:
        pr = _typo(pr, brand, country, 1 if s < 0.5 else 2, rng)
    if "label_font" in here:
        f = dz.foreign_font(brand.font, rng)
        n = 1 if s < 0.4 else (min(3, len(body)) if s < 0.75 else len(keys))
        for k in (rng.choice(body, size=n, replace=False) if n <= len(body) else keys):
            pr = pr.edit(str(k), font=f)
    if "label_misaligned" in here:
        n = 1 + int(s * 2.99)
        for k in rng.choice(body, size=min(n, len(body)), replace=False):
            sign = rng.choice([-1, 1], size=3)
            pr = pr.edit(str(k), angle=float(sign[0] * (2.0 + 6.0 * s)),
                         dx=float(sign[1] * (0.035 + 0.1 * s) * rng.uniform(0.6, 1)),
                         dy=float(sign[2] * (0.12 + 0.3 * s) * rng.uniform(0.5, 1)))
    if "label_bleed" in here:
        pr = replace(pr, bleed=0.07 + 0.22 * s)
    return pr


def _ink(pr: labels.Print, rng) -> labels.Print:
    t = rng.uniform(-0.12, 0.18)
    ink = np.asarray(pr.ink, float)
    bg = np.asarray(pr.bg, float)
    tone = ink + (bg - ink) * t if t > 0 else ink * (1 + t)
    return replace(pr, ink=tuple(int(np.clip(v, 0, 255)) for v in tone))


def _views(defects, surfaces, rng) -> tuple:
    """Side view always; then the close-ups that show each (suspected) defect; then others."""
    n = int(rng.integers(3, 7))
    chosen = ["side"]
    for d in defects:
        close = [v for v in dz.CLOSE_UP.get(d, surfaces.get(d, ())) if v != "side"]
        if not any(v in chosen for v in close):
            chosen.append(str(rng.choice(close)))
    others = [v for v in dz.VIEWS if v not in chosen]
    extra = max(0, n - len(chosen))
    chosen += [str(v) for v in rng.choice(others, size=min(extra, len(others)), replace=False)]
    rest = chosen[1:]
    order = rng.permutation(len(rest))
    return tuple(["side"] + [rest[i] for i in order])


def make_parcel(index: int, parcel_id: str, brand_name: str, counterfeit: bool, difficulty,
                rng: np.random.Generator) -> Parcel:
    brand = BRANDS[brand_name]
    cw = brand.colourways[int(rng.integers(len(brand.colourways)))]
    colours = {k: _jitter_colour(getattr(cw, k), rng) for k in
               ("upper", "overlay", "mark", "midsole", "outsole", "thread", "lace", "lining")}
    sil = dict(brand.silhouette)
    for k in ("collar_h", "collar_dip", "sole_h", "toe_h"):
        sil[k] *= 1 + rng.normal(0, 0.03)
    sil["toe_cap_x"] = 0.79 + rng.normal(0, 0.006)
    size = SIZES[int(rng.integers(len(SIZES)))]
    country = str(rng.choice(brand.countries))
    style = _code(brand.style_code, cw.code, rng)
    model = str(rng.choice(brand.models))
    wear = float(rng.uniform(0, 1) ** 2)
    dust = float(rng.uniform(0, 1) ** 1.5)
    mark_pose = (float(rng.normal(0, 0.006)), float(rng.normal(0, 0.006)),
                 float(rng.normal(0, 1.0)), float(1 + rng.normal(0, 0.02)))

    strength = dz.draw_strength(difficulty, rng) if counterfeit else None
    s = strength or 0.0
    found = dz.draw_defects(rng) if counterfeit else ()
    # Genuine parcels get "suspicions" too, so which close-ups were taken reveals nothing.
    suspected = found or dz.draw_defects(rng)
    surfaces = {d: dz.draw_surfaces(d, rng) for d in suspected if d in dz.LABEL_DEFECTS}

    printed = country
    if "label_country" in found:
        printed = str(rng.choice([c for c in COUNTRIES if c not in brand.countries]))
        country = printed
    tag_t, box_t = _texts(brand, size, country, style, model, rng)
    prints = []
    for surface, layout in (("label", labels.tag_layout(brand, tag_t)),
                            ("box", labels.box_layout(brand, box_t))):
        pr = _print_tolerance(layout, rng)
        flawed = _print_flaws(pr, found, surface, surfaces, brand, printed, s, rng)
        prints.append(flawed)
    tag, box = prints

    mark_geom = marks.natural(brand.mark, rng)
    if "logo_geometry" in found:
        mark_geom, _ = marks.flawed(brand.mark, rng, s, base=mark_geom)
    mark_colour = colours["mark"]
    if "logo_shade" in found:
        mark_colour = dz.shaded_mark(colours["mark"], s, rng)

    glue = ()
    if "glue_stain" in found:
        n = 1 + int(s * 2.4)
        xs = rng.choice([rng.uniform(0.06, 0.25), rng.uniform(0.65, 0.92), rng.uniform(0.3, 0.6)],
                        size=n, replace=False)
        glue = tuple((float(x), float((0.026 + 0.03 * s) * rng.uniform(0.85, 1.15)),
                      float(0.65 + 0.3 * s)) for x in xs)
    rough = 0.007 + 0.012 * s if "rough_edges" in found else 0.0
    flaws = dz.stitch_flaws(found, s, rng)

    p = Parcel(
        index=index, parcel_id=parcel_id, brand=brand, counterfeit=counterfeit,
        strength=strength, defects=found, surfaces=surfaces,
        colours=colours, mark_colour=mark_colour, sil=sil, mark_geom=mark_geom,
        mark_pose=mark_pose, flaws=flaws, tag=tag, box=box, glue=glue, rough=rough,
        wear=wear, dust=dust,
    )
    p.views = _views(suspected, surfaces, rng)
    return p
