"""The fictional brands: marks, house colours, typefaces, silhouettes, factory countries.

Every brand differs in several independent cues (mark, palette, thread, typeface, tread, tag and
box style) so a model can tell brands apart in any view, not only from one cue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Every country any label may name. A brand's genuine factories are a subset; the others are what
# a `label_country` fake prints.
COUNTRIES = ("VIETNAM", "INDONESIA", "CHINA", "CAMBODIA", "INDIA", "THAILAND", "BANGLADESH",
             "BRAZIL", "TURKEY", "MYANMAR")

# Misspellings seen on fakes. No homoglyphs (I/l, O/0): a subtle typo must still be a typo that
# is legible at 224 px.
TYPOS = {
    "VIETNAM": ("VIETMAN", "VEITNAM", "VIETNAN", "VIETAM", "VIENTAM"),
    "INDONESIA": ("INDONESLA", "INDONISIA", "INDNOESIA", "INDONESA", "INDOMESIA"),
    "CHINA": ("CHIAN", "CHINE", "CIHNA", "CHNIA"),
    "CAMBODIA": ("CAMBODA", "CAMBOIDA", "CAMBOBIA", "CAMDOBIA"),
    "INDIA": ("IDNIA", "INDAI", "INIDA"),
    "THAILAND": ("THIALAND", "THAILNAD", "TAILAND", "THAILANO"),
    "BANGLADESH": ("BANGALDESH", "BANGLADES", "BAGNLADESH"),
    "BRAZIL": ("BRAZLI", "BARZIL", "BRASIL"),
    "TURKEY": ("TRUKEY", "TURKY", "TUKREY"),
    "MYANMAR": ("MYANMRA", "MAYNMAR", "MYAMMAR"),
    "MADE IN": ("MADE IM", "MAED IN", "MADE NI", "MAD IN", "MADF IN"),
    "EUR": ("EUP", "ERU", "FUR"),
    "UK": ("KU", "UX"),
    "US": ("SU", "UE"),
}

# Fonts no brand uses: a `label_font` fake prints in one of these.
FOREIGN_FONTS = ("DejaVuSans", "DejaVuSerif", "cmr10", "cmtt10", "STIXGeneral",
                 "DejaVuSans-BoldOblique", "cmb10", "DejaVuSansMono", "STIXGeneralBol")

# Men's size chart: US, UK, EUR, CM.
SIZES = (
    ("6", "5.5", "38.5", "24"), ("6.5", "6", "39", "24.5"), ("7", "6", "40", "25"),
    ("7.5", "6.5", "40.5", "25.5"), ("8", "7", "41", "26"), ("8.5", "7.5", "42", "26.5"),
    ("9", "8", "42.5", "27"), ("9.5", "8.5", "43", "27.5"), ("10", "9", "44", "28"),
    ("10.5", "9.5", "44.5", "28.5"), ("11", "10", "45", "29"), ("11.5", "10.5", "45.5", "29.5"),
    ("12", "11", "46", "30"), ("13", "12", "47.5", "31"),
)


@dataclass(frozen=True)
class Colourway:
    name: str
    upper: tuple  # base panel (quarter, vamp)
    overlay: tuple  # toe cap, heel counter, eyestay
    mark: tuple
    midsole: tuple
    outsole: tuple
    thread: tuple
    lace: tuple
    lining: tuple
    code: str  # last part of the style code


@dataclass(frozen=True)
class Brand:
    name: str
    wordmark: str
    mark: str  # marks.MARK_KINDS
    font: str  # wordmark and label typeface
    countries: tuple
    colourways: tuple
    models: tuple
    style_code: str  # format: L = letter, D = digit
    silhouette: dict
    stitch: dict  # pitch (shoe lengths), rows, row gap, length ratio
    tread: str  # shoe.TREADS
    mark_side: dict  # placement on the side view: x, y fraction, size, angle
    tag: dict  # tongue tag style
    box: dict  # box colours and sticker layout
    extras: dict = field(default_factory=dict)


def _cw(name, upper, overlay, mark, midsole, outsole, thread, lace, lining, code):
    return Colourway(name, upper, overlay, mark, midsole, outsole, thread, lace, lining, code)


WHITE, OFFWHITE, BLACK = (238, 238, 234), (232, 226, 210), (28, 28, 30)
GUM = (170, 118, 62)

BRANDS: dict[str, Brand] = {
    b.name: b
    for b in (
        Brand(
            name="trivant",
            wordmark="TRIVANT",
            mark="stripes",
            font="DejaVuSans-Bold",
            countries=("VIETNAM", "INDONESIA", "CHINA"),
            colourways=(
                _cw("core", WHITE, WHITE, BLACK, WHITE, (60, 60, 62), (40, 40, 40), WHITE,
                    (30, 70, 160), "100"),
                _cw("night", BLACK, BLACK, WHITE, WHITE, BLACK, (230, 230, 230), BLACK,
                    (40, 40, 44), "001"),
                _cw("royal", (30, 70, 160), (22, 52, 125), WHITE, OFFWHITE, GUM, WHITE,
                    WHITE, (30, 70, 160), "400"),
                _cw("grass", WHITE, (20, 110, 70), (20, 110, 70), WHITE, GUM, (240, 240, 235),
                    WHITE, (230, 230, 225), "130"),
            ),
            models=("SAMBRA", "GAZELLO", "CAMPA"),
            style_code="LLDDDD",
            silhouette=dict(collar_h=0.342, collar_dip=0.061, sole_h=0.055, outsole_h=0.022,
                            toe_h=0.14, toe_spring=0.025, throat_x=0.36, vamp_x=0.72,
                            eyelets=6, foxing=False, toe_perfs=False, heel_tab=True),
            stitch=dict(pitch=0.011, rows=2, gap=0.007, length=0.62, width=0.0045),
            tread="herringbone",
            mark_side=dict(x=0.5, y=0.48, size=0.2, angle=0.0),
            tag=dict(bg=(244, 244, 240), ink=(25, 25, 25), align="center", grid=True),
            box=dict(colour=(30, 70, 160), lid=(235, 235, 235), sticker_side="left",
                     grid="row", print=WHITE),
        ),
        Brand(
            name="zephra",
            wordmark="ZEPHRA",
            mark="arc",
            font="DejaVuSans-Oblique",
            countries=("VIETNAM", "CHINA", "INDIA"),
            colourways=(
                _cw("ember", WHITE, (235, 110, 30), (235, 110, 30), WHITE, (50, 50, 50),
                    (60, 60, 60), WHITE, (60, 60, 60), "181"),
                _cw("shadow", (40, 40, 44), (70, 70, 74), (235, 110, 30), WHITE, BLACK,
                    (235, 110, 30), BLACK, (235, 110, 30), "008"),
                _cw("volt", (150, 150, 155), (110, 110, 115), (200, 230, 40), (225, 225, 220),
                    (45, 45, 48), (200, 230, 40), (200, 230, 40), (50, 50, 54), "070"),
                _cw("sand", (215, 195, 160), (190, 160, 120), (235, 110, 30), OFFWHITE, GUM,
                    (90, 70, 45), (215, 195, 160), (120, 95, 60), "200"),
            ),
            models=("AIRLINE", "SWIFT", "PACER"),
            style_code="LLDDDD-DDD",
            silhouette=dict(collar_h=0.319, collar_dip=0.066, sole_h=0.085, outsole_h=0.02,
                            toe_h=0.128, toe_spring=0.04, throat_x=0.37, vamp_x=0.7,
                            eyelets=7, foxing=False, toe_perfs=False, heel_tab=False),
            stitch=dict(pitch=0.013, rows=1, gap=0.0, length=0.7, width=0.005),
            tread="waffle",
            mark_side=dict(x=0.52, y=0.42, size=0.36, angle=0.0),
            tag=dict(bg=(24, 24, 26), ink=(240, 240, 240), align="left", grid=False),
            box=dict(colour=(235, 110, 30), lid=(235, 110, 30), sticker_side="right",
                     grid="column", print=BLACK),
        ),
        Brand(
            name="orbistar",
            wordmark="ORBISTAR",
            mark="star",
            font="DejaVuSerif-Bold",
            countries=("INDONESIA", "CAMBODIA"),
            colourways=(
                _cw("navy", WHITE, (25, 35, 80), (190, 30, 40), WHITE, (40, 40, 60),
                    (230, 230, 225), WHITE, (25, 35, 80), "141"),
                _cw("bordeaux", (110, 25, 40), (80, 18, 30), (235, 235, 230), OFFWHITE, GUM,
                    (235, 235, 230), (235, 235, 230), (80, 18, 30), "600"),
                _cw("chalk", OFFWHITE, OFFWHITE, (25, 35, 80), OFFWHITE, (200, 190, 170),
                    (25, 35, 80), OFFWHITE, (25, 35, 80), "102"),
            ),
            models=("COURT STAR", "ORBIT HI", "ALLSTAR 77"),
            style_code="DDDDDDC",
            silhouette=dict(collar_h=0.507, collar_dip=0.033, sole_h=0.045, outsole_h=0.03,
                            toe_h=0.146, toe_spring=0.02, throat_x=0.34, vamp_x=0.74,
                            eyelets=8, foxing=True, toe_perfs=True, heel_tab=False),
            stitch=dict(pitch=0.012, rows=2, gap=0.008, length=0.55, width=0.0045),
            tread="diamond",
            mark_side=dict(x=0.22, y=0.55, size=0.13, angle=0.0),
            tag=dict(bg=(236, 226, 200), ink=(25, 35, 80), align="center", grid=False),
            box=dict(colour=(28, 28, 30), lid=(190, 30, 40), sticker_side="left",
                     grid="column", print=(200, 170, 80)),
        ),
        Brand(
            name="kestra",
            wordmark="KESTRA",
            mark="chevron",
            font="DejaVuSansMono-Bold",
            countries=("CHINA", "VIETNAM", "BANGLADESH"),
            colourways=(
                _cw("moss", (105, 115, 70), (70, 60, 45), (230, 200, 60), (200, 195, 180),
                    (45, 40, 35), (230, 200, 60), (200, 60, 40), (70, 60, 45), "301"),
                _cw("slate", (90, 100, 110), (40, 45, 52), (40, 170, 160), (60, 62, 66),
                    BLACK, (40, 170, 160), BLACK, (40, 170, 160), "020"),
                _cw("clay", (180, 110, 70), (110, 70, 45), (240, 240, 235), (225, 215, 195),
                    (60, 45, 35), (240, 240, 235), (110, 70, 45), (60, 45, 35), "805"),
            ),
            models=("TRAIL X", "RIDGE MID", "SUMMIT"),
            style_code="LDDDDD",
            silhouette=dict(collar_h=0.413, collar_dip=0.044, sole_h=0.075, outsole_h=0.04,
                            toe_h=0.159, toe_spring=0.035, throat_x=0.35, vamp_x=0.7,
                            eyelets=6, foxing=True, toe_perfs=False, heel_tab=True),
            stitch=dict(pitch=0.016, rows=2, gap=0.009, length=0.72, width=0.006),
            tread="lugs",
            mark_side=dict(x=0.5, y=0.45, size=0.17, angle=0.0),
            tag=dict(bg=(175, 178, 182), ink=(15, 15, 15), align="left", grid=True),
            box=dict(colour=(40, 120, 80), lid=(30, 30, 30), sticker_side="right",
                     grid="row", print=(240, 240, 235)),
        ),
        Brand(
            name="alavis",
            wordmark="ALAVIS",
            mark="wing",
            font="cmss10",
            countries=("THAILAND", "VIETNAM"),
            colourways=(
                _cw("classic", WHITE, WHITE, (200, 30, 40), WHITE, (210, 210, 205),
                    (200, 30, 40), WHITE, (200, 30, 40), "161"),
                _cw("fog", (200, 200, 205), (160, 160, 168), (200, 30, 40), WHITE,
                    (150, 150, 155), (245, 245, 245), WHITE, (90, 90, 96), "050"),
                _cw("scarlet", (200, 30, 40), (150, 20, 30), WHITE, WHITE, (40, 40, 40),
                    WHITE, WHITE, BLACK, "601"),
                _cw("ink", (24, 28, 44), (24, 28, 44), (210, 170, 70), OFFWHITE, GUM,
                    (210, 170, 70), (24, 28, 44), (210, 170, 70), "410"),
            ),
            models=("AILE", "VOLANT", "PLUME LOW"),
            style_code="LL-DDDDD",
            silhouette=dict(collar_h=0.319, collar_dip=0.05, sole_h=0.05, outsole_h=0.02,
                            toe_h=0.134, toe_spring=0.015, throat_x=0.37, vamp_x=0.73,
                            eyelets=5, foxing=False, toe_perfs=True, heel_tab=True),
            stitch=dict(pitch=0.01, rows=1, gap=0.0, length=0.5, width=0.004),
            tread="waves",
            mark_side=dict(x=0.47, y=0.5, size=0.2, angle=0.0),
            tag=dict(bg=(246, 246, 246), ink=(200, 30, 40), align="center", grid=True),
            box=dict(colour=(240, 240, 238), lid=(200, 30, 40), sticker_side="right",
                     grid="column", print=(200, 30, 40)),
        ),
    )
}
