"""The labels a parcel's photos show: read (`reader`), parsed into fields (`fields`) and checked
against each other and the brand's published facts (`checks`).

`parcel_evidence` is what the inspector calls: from each photo's read text to the per-photo
labels and the parcel's check outcomes that go into the verdict.
"""

from __future__ import annotations

from infer.labels.checks import FAIL, RULES, Outcome, ParcelLabels, check_parcel, failed_reasons
from infer.labels.fields import Fields, parse
from infer.labels.reader import PhotoText, read_photo

# Shorter side a photo is decoded at for reading: small print needs the photo's own pixels.
DECODE_SIDE = 1280
# The checks use only lines read at least this sure: a misread digit would fail a check digit,
# a misread code a comparison, and send a genuine parcel to review for nothing.
SURE = 0.9

__all__ = ["DECODE_SIDE", "FAIL", "RULES", "Fields", "Outcome", "ParcelLabels", "PhotoText",
           "check_parcel", "failed_reasons", "parcel_evidence", "parse", "read_photo"]


def parcel_evidence(texts: list[PhotoText | None], names: list[str], brand: str | None,
                    dispatch_country: str | None = None) -> tuple[list[dict], list[Outcome]]:
    """(labels, check outcomes): per photo that was read, its lines (text, box, confidence), its
    fields and why nothing was read where nothing was; then every rule's outcome, on the fields
    of the lines read at least `SURE`."""
    labels, fields = [], []
    for i, (text, name) in enumerate(zip(texts, names, strict=True)):
        if text is None:  # the photo itself could not be read
            fields.append(Fields())
            continue
        parsed = parse(text.texts(), brand=brand, boxes=[line.box for line in text.lines])
        sure = [line for line in text.lines if line.confidence >= SURE]
        fields.append(parse([line.text for line in sure], brand=brand, boxes=[line.box for line in sure]))
        # A decoded barcode passed its own check digit: it is as sure as a reading gets.
        parsed.barcode = fields[-1].barcode = text.barcodes[0].gtin if text.barcodes else None
        labels.append({"photo": i, "path": name, "size": list(text.size), "reason": text.reason,
                       "lines": [vars(line) for line in text.lines],
                       "barcodes": [vars(code) for code in text.barcodes], "fields": parsed.to_dict()})
    # The labels' own brand (a printed name, a Nike style code) before the image model's guess.
    printed = next((f.brand for f in fields if f.brand), None)
    outcomes = check_parcel(ParcelLabels(fields, brand=printed or brand, dispatch_country=dispatch_country))
    return labels, outcomes
