"""Barcodes on labels (`infer.labels.barcodes`): decoded where the bars are, any way up, and
compared with the number printed under them. Generated labels, no shared data needed."""

from __future__ import annotations

import numpy as np
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from infer.labels import parcel_evidence
from infer.labels.barcodes import read_barcodes
from infer.labels.reader import read_photo


def box_label(bars: str, printed: str) -> Image.Image:
    """A white box label: a style line, an EAN-13 carrying `bars`, and `printed` under it."""
    code = zxingcpp.create_barcode(bars, zxingcpp.BarcodeFormat.EAN13)
    bars_img = Image.fromarray(np.asarray(code.to_image(scale=4, add_quiet_zones=True)))
    label = Image.new("RGB", (1000, 620), "white")
    label.paste(bars_img.convert("RGB").resize((bars_img.width, 260)), (80, 200))
    draw = ImageDraw.Draw(label)
    font = ImageFont.load_default(size=40)
    draw.text((80, 60), "555088-101 MADE IN CHINA", fill="black", font=font)
    draw.text((80, 500), printed, fill="black", font=font)
    return label


def test_bars_are_decoded_upright_and_turned_and_other_formats_ignored():
    label = box_label("0885259846193", "0 885259 846193")
    for turned in (label, label.rotate(90, expand=True), label.rotate(180)):
        assert [c.gtin for c in read_barcodes(turned)] == ["00885259846193"]
    itf = zxingcpp.create_barcode("0108100540", zxingcpp.BarcodeFormat.ITF)
    only_itf = Image.fromarray(np.asarray(itf.to_image(scale=4, add_quiet_zones=True)))
    assert read_barcodes(only_itf.convert("RGB")) == []  # a factory number, no GTIN
    assert read_barcodes(Image.new("RGB", (400, 300), "white")) == []


def test_a_label_whose_bars_disagree_with_its_print_fails_the_check():
    """The real reader end to end: bars of one shoe over the printed number of another."""
    right, wrong = box_label("0885259846193", "0 885259 846193"), box_label("0885259846209",
                                                                            "0 885259 846193")
    for image, outcome in ((right, "pass"), (wrong, "fail")):
        text = read_photo(image)
        labels, outcomes = parcel_evidence([text], ["box.jpg"], brand="nike")
        assert labels[0]["barcodes"] and labels[0]["fields"]["barcode"] == text.barcodes[0].gtin
        assert labels[0]["fields"]["gtin"] == "00885259846193", text.texts()
        found = next(o for o in outcomes if o.check == "barcode_matches_print")
        assert found.outcome == outcome, found
