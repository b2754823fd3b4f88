"""Labels in the verdict: what was read and checked reaches `to_dict`, a failed check becomes a
`label_*` reason, and a failed check never lets a parcel be cleared as genuine automatically."""

from __future__ import annotations

import pytest
import torch
from PIL import Image, ImageDraw

from infer import Inspector
from infer.labels import reader
from infer.labels.reader import Line, PhotoText
from infer.model import create_inspector_net

TAG = ["MADE IN CHINA", "555088-101 02/09/15", "12/10/14", "UPC 00885259846193", "US 10 UK 9 EUR 44 CM 28"]


def inspector(genuine_below: float) -> Inspector:
    """A tiny network whose every parcel falls below `genuine_below` when it is 1.0 (genuine)
    and in the review band otherwise; brand certainty is not asked for."""
    torch.manual_seed(0)
    net = create_inspector_net(brands=["nike", "adidas"], weights="none", image_size=32).eval()
    meta = {"net": net.spec.to_dict(), "thresholds": {"genuine_below": genuine_below, "counterfeit_above": 1.0,
                                                      "min_brand_probability": 0.0}}
    return Inspector(meta, net=net, labels=True)


def fake_reader(texts: dict[int, list[str]]):
    """read_photo stand-in: photo k (by its width, 40 + k) prints texts[k]."""
    def read(img: Image.Image, min_confidence: float = 0.5) -> PhotoText:
        lines = texts.get(img.width - 40, [])
        boxes = [[[0, 10 * i], [100, 10 * i], [100, 10 * i + 8], [0, 10 * i + 8]] for i in range(len(lines))]
        return PhotoText([Line(t, 0.99, b) for t, b in zip(lines, boxes, strict=True)], img.size,
                         None if lines else "no printed text found")
    return read


def photos(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (40 + k, 48), (120, 90, 60)) for k in range(n)]


def test_read_fields_and_every_check_reach_the_json(monkeypatch):
    monkeypatch.setattr(reader, "read_photo", fake_reader({1: TAG}))
    got = inspector(1.0).inspect(photos(3), parcel_id="P-1", dispatch_country="China").to_dict()
    assert [label["photo"] for label in got["labels"]] == [0, 1, 2]
    tag = got["labels"][1]
    assert tag["fields"]["style_code"] == "555088-101" and tag["fields"]["made_in"] == "CHINA"
    assert tag["lines"][0]["text"] == "MADE IN CHINA" and len(tag["lines"][0]["box"]) == 4
    assert got["labels"][0]["reason"] == "no printed text found"
    checks = {c["check"]: c["outcome"] for c in got["label_checks"]}
    assert checks["gtin_check_digit"] == "pass" and checks["made_in_vs_dispatch"] == "pass"
    assert checks["style_code_agrees"] == "unknown"  # one label: nothing to compare with
    assert got["verdict"] == "genuine" and not [r for r in got["reasons"] if r.startswith("label_")]


def test_a_failed_check_never_lets_a_parcel_be_cleared_as_genuine(monkeypatch):
    bad = [line.replace("846193", "846194") for line in TAG]
    monkeypatch.setattr(reader, "read_photo", fake_reader({0: bad}))
    got = inspector(1.0).inspect(photos(2), parcel_id="P-2").to_dict()
    assert got["verdict"] == "review"
    assert "label_gtin_check_digit" in got["reasons"]
    (check,) = [c for c in got["label_checks"] if c["check"] == "gtin_check_digit"]
    assert check["outcome"] == "fail" and check["photos"] == [0]


def test_without_labels_nothing_is_read(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("read_photo called with labels off")

    monkeypatch.setattr(reader, "read_photo", refuse)
    ins = inspector(1.0)
    ins.read_labels = False
    got = ins.inspect(photos(2), parcel_id="P-3").to_dict()
    assert got["labels"] == [] and got["label_checks"] == [] and got["verdict"] == "genuine"


def test_an_unreadable_photo_gets_no_label_and_the_rest_are_read(monkeypatch, tmp_path):
    monkeypatch.setattr(reader, "read_photo", fake_reader({0: TAG}))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    got = inspector(1.0).inspect([photos(1)[0], str(broken)], parcel_id="P-4").to_dict()
    assert [label["photo"] for label in got["labels"]] == [0]
    assert "unreadable_photos" in got["reasons"]


def test_the_real_reader_reads_a_drawn_tag_and_finds_nothing_on_a_blank_photo():
    """RapidOCR itself, on a generated tag (no shared data needed), upright and turned."""
    tag = Image.new("RGB", (900, 600), "white")
    draw = ImageDraw.Draw(tag)
    from PIL import ImageFont

    font = ImageFont.load_default(size=44)
    for i, line in enumerate(["MADE IN VIETNAM", "555088-101", "UPC 00885259846193"]):
        draw.text((60, 80 + 140 * i), line, fill="black", font=font)
    for turned in (tag, tag.rotate(90, expand=True)):
        text = reader.read_photo(turned)
        joined = " ".join(text.texts()).replace(" ", "")
        assert "MADEINVIETNAM" in joined and "555088-101" in joined, text.texts()
    blank = reader.read_photo(Image.new("RGB", (640, 480), (200, 200, 200)))
    assert blank.lines == [] and blank.reason == "no printed text found"


@pytest.mark.parametrize("brand_logits, box, untrained", [
    ((0.0, 5.0), None, True),  # judged as adidas: the counterfeit head never saw an adidas fake
    ((5.0, 0.0), ["AIR JORDAN 1 RETRO HIGH OG"], False),
    ((5.0, 0.0), ["AJ1 RETRO HIGH OG FEARLESS"], False),
    ((5.0, 0.0), ["NIKE DUNK LOW RETRO"], True),  # a nike model it never saw labelled
    ((5.0, 0.0), None, False),  # no model read: the brand decides
])
def test_outside_the_brands_and_models_it_learned_the_score_decides_nothing(monkeypatch, brand_logits, box,
                                                                            untrained):
    monkeypatch.setattr(reader, "read_photo", fake_reader({0: box} if box else {}))
    ins = inspector(1.0)
    ins.counterfeit_trained = {"brands": ["kestra", "nike"], "models": ["air-force-1", "air-jordan-1"]}
    with torch.no_grad():
        ins.net.brand_head.weight.zero_()
        ins.net.brand_head.bias.copy_(torch.tensor(brand_logits))
    got = ins.inspect(photos(2), parcel_id="P-5").to_dict()
    assert ("counterfeit_model_untrained" in got["reasons"]) is untrained
    assert got["verdict"] == ("review" if untrained else "genuine")
