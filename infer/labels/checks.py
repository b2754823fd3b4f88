"""Consistency checks on a parcel's labels: the rules a brand liaison reads and extends.

Each rule is one row of `RULES`: a name (the verdict's reason is `label_<name>` when it fails),
what it checks in words, and a function of the parcel's label fields that says `pass`, `fail`
or `unknown` (the labels do not show enough to tell) with the photos and values behind it. To
add a rule, write its function here and add its row; nothing else reads the rules.

A failed check is a reason to look, not proof: genuine labels have misprints, and a good
counterfeit copies a real label exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from infer.labels.fields import Fields, dispatch_country

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
SIZE_CHARTS = Path(__file__).with_name("size_charts.csv")
MAX_PRODUCTION_DAYS = 275  # about nine months between a tag's two production dates
MIN_SIZES = 3  # sizes read on one label before the chart is asked: two can be one misread


@dataclass
class ParcelLabels:
    """What a parcel's photos say, as the checks see it."""

    fields: list[Fields]  # one per photo, in the parcel's order (empty Fields where no label)
    brand: str | None = None  # the brand the parcel is judged as
    dispatch_country: str | None = None  # from the parcel record, when known
    today: date = field(default_factory=date.today)


@dataclass
class Outcome:
    check: str
    outcome: str  # pass / fail / unknown
    detail: str  # in words, for the liaison
    photos: list[int] = field(default_factory=list)  # indices of the photos behind it
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _with(labels: ParcelLabels, attribute: str) -> list[tuple[int, object]]:
    return [(i, getattr(f, attribute)) for i, f in enumerate(labels.fields) if getattr(f, attribute)]


def gtin_check_digit(labels: ParcelLabels) -> Outcome:
    read = [(i, f.gtin, f.gtin_check_digit_ok) for i, f in enumerate(labels.fields) if f.gtin]
    if not read:
        return Outcome("gtin_check_digit", UNKNOWN, "no barcode number read")
    bad = [(i, g) for i, g, ok in read if not ok]
    if bad:
        return Outcome("gtin_check_digit", FAIL, f"barcode number {bad[0][1].lstrip('0')} has a wrong check "
                       "digit", [i for i, _ in bad], {"gtin": [g for _, g in bad]})
    return Outcome("gtin_check_digit", PASS, f"{len(read)} barcode number(s) with a right check digit",
                   [i for i, _, _ in read], {"gtin": sorted({g for _, g, _ in read})})


def barcode_matches_print(labels: ParcelLabels) -> Outcome:
    # Only a printed number with a right check digit is compared: a misread digit almost
    # always breaks it, so a mismatch left is the label's, not the reader's.
    both = [(i, f.barcode, f.gtin) for i, f in enumerate(labels.fields)
            if f.barcode and f.gtin and f.gtin_check_digit_ok]
    if not both:
        return Outcome("barcode_matches_print", UNKNOWN, "no photo shows both a decoded barcode "
                       "and its printed number")
    bad = [(i, bars, printed) for i, bars, printed in both if bars != printed]
    if bad:
        i, bars, printed = bad[0]
        return Outcome("barcode_matches_print", FAIL, f"the bars carry {bars.lstrip('0')}, the "
                       f"number printed under them is {printed.lstrip('0')}", [b[0] for b in bad],
                       {"barcode": bars, "printed": printed})
    return Outcome("barcode_matches_print", PASS, "the bars carry the printed number",
                   [i for i, _, _ in both], {"gtin": sorted({g for _, g, _ in both})})


def _agree(labels: ParcelLabels, name: str, attribute: str, what: str) -> Outcome:
    read = _with(labels, attribute)
    values = sorted({str(v) for _, v in read})
    photos = [i for i, _ in read]
    if len(read) < 2:
        return Outcome(name, UNKNOWN, f"{what} read on {len(read)} label(s): nothing to compare", photos,
                       {attribute: values})
    if len(values) > 1:
        return Outcome(name, FAIL, f"the labels print different {what}s: {', '.join(values)}", photos,
                       {attribute: values})
    return Outcome(name, PASS, f"{len(read)} labels print the same {what} ({values[0]})", photos,
                   {attribute: values})


def style_code_agrees(labels: ParcelLabels) -> Outcome:
    return _agree(labels, "style_code_agrees", "style_code", "style code")


def made_in_agrees(labels: ParcelLabels) -> Outcome:
    return _agree(labels, "made_in_agrees", "made_in", "country of manufacture")


def production_dates(labels: ParcelLabels) -> Outcome:
    """Start before end, at most nine months apart, neither in the future (Nike tags: MM/DD/YY;
    the earlier date is read as the start)."""
    read = [(i, f.production_dates) for i, f in enumerate(labels.fields) if len(f.production_dates) == 2]
    if not read:
        return Outcome("production_dates", UNKNOWN, "no pair of production dates read")
    for i, pair in read:
        if "invalid" in pair:
            return Outcome("production_dates", FAIL, f"a production date is no calendar date ({pair})", [i],
                           {"dates": pair})
        start, end = sorted(date.fromisoformat(d) for d in pair)
        if end > labels.today:
            return Outcome("production_dates", FAIL, f"production date {end} is in the future", [i],
                           {"dates": pair})
        if (end - start).days > MAX_PRODUCTION_DAYS:
            return Outcome("production_dates", FAIL, f"production dates {start} and {end} are "
                           f"{(end - start).days} days apart (more than nine months)", [i], {"dates": pair})
    return Outcome("production_dates", PASS, "production dates form a plausible run", [i for i, _ in read],
                   {"dates": [p for _, p in read]})


def _charts() -> list[dict]:
    with SIZE_CHARTS.open() as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


def _same_size(a: str, b: str) -> bool:
    a, b = a.strip().upper().replace(",", "."), b.strip().upper().replace(",", ".")
    try:
        return float(a.rstrip("Y")) == float(b.rstrip("Y")) and a.endswith("Y") == b.endswith("Y")
    except ValueError:
        return a == b


def size_chart(labels: ParcelLabels) -> Outcome:
    """Each label's US / UK / EUR / cm (three at least) sit on one row of the brand's chart."""
    read = [(i, f.sizes) for i, f in enumerate(labels.fields) if len(f.sizes) >= MIN_SIZES]
    brand = (labels.brand or "nike").lower()
    rows = [r for r in _charts() if r["brand"] == ("nike" if brand == "jordan" else brand)]
    if not read or not rows:
        why = f"no label with {MIN_SIZES} sizes read" if not read else f"no size chart for {brand}"
        return Outcome("size_chart", UNKNOWN, why, [i for i, _ in read])
    for i, sizes in read:
        fits = [r for r in rows if all(not r.get(k) or _same_size(v, r[k]) for k, v in sizes.items()
                                       if k in ("us", "uk", "eur", "cm"))]
        if not fits:
            shown = " / ".join(f"{k.upper()} {v}" for k, v in sizes.items())
            return Outcome("size_chart", FAIL, f"{shown} is on no row of the {brand} size chart", [i],
                           {"sizes": sizes})
    return Outcome("size_chart", PASS, "the printed sizes agree with the brand's size chart",
                   [i for i, _ in read], {"sizes": [s for _, s in read]})


def made_in_vs_dispatch(labels: ParcelLabels) -> Outcome:
    """The label's country against the country the parcel was posted from: a shoe made in one
    country and posted from another is common (retail, resale), so this is a reason to look."""
    dispatch = dispatch_country(labels.dispatch_country)
    read = _with(labels, "made_in")
    if not dispatch or not read:
        why = "no dispatch country in the parcel record" if not dispatch else "no \"made in\" read"
        return Outcome("made_in_vs_dispatch", UNKNOWN, why, [i for i, _ in read])
    other = [(i, c) for i, c in read if c != dispatch]
    if other:
        return Outcome("made_in_vs_dispatch", FAIL, f"labels say made in {other[0][1]}, the parcel was "
                       f"posted from {dispatch}", [i for i, _ in other], {"made_in": other[0][1],
                                                                         "dispatch_country": dispatch})
    return Outcome("made_in_vs_dispatch", PASS, f"made in and posted from {dispatch}", [i for i, _ in read])


@dataclass(frozen=True)
class Rule:
    name: str
    what: str
    run: Callable[[ParcelLabels], Outcome]


RULES = (
    Rule("gtin_check_digit", "every barcode number has the right GS1 check digit", gtin_check_digit),
    Rule("barcode_matches_print", "a barcode's bars carry the number printed under them",
         barcode_matches_print),
    Rule("style_code_agrees", "the size tag and the box label print the same style code", style_code_agrees),
    Rule("made_in_agrees", "the size tag and the box label print the same country", made_in_agrees),
    Rule("production_dates", "the tag's production dates: start before end, at most nine months "
         "apart, not in the future", production_dates),
    Rule("size_chart", "US, UK, EUR and cm sizes sit on one row of the brand's published chart", size_chart),
    Rule("made_in_vs_dispatch", "the label's country against the country the parcel was posted from",
         made_in_vs_dispatch),
)


def check_parcel(labels: ParcelLabels) -> list[Outcome]:
    return [rule.run(labels) for rule in RULES]


def failed_reasons(outcomes: list[Outcome]) -> list[str]:
    """The verdict's reasons: `label_<check>` for every failed check."""
    return [f"label_{o.check}" for o in outcomes if o.outcome == FAIL]
