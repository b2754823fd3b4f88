"""Label fields parsed from read text lines (`infer.labels.fields`): every format it knows."""

from __future__ import annotations

import pytest

from infer.labels.fields import country, gtin_check_digit_ok, parse


def test_a_nike_size_tag_as_the_reader_returns_it():
    f = parse(["MADE IN CHINA", "555088-101 02/09/15", "12/10/14", "UPC 00885259846193",
               "US 10 UK 9 EUR 44 CM 28"])
    assert f.made_in == "CHINA"
    assert f.style_code == "555088-101"
    assert f.production_dates == ["2015-02-09", "2014-12-10"]
    assert f.gtin == "00885259846193" and f.gtin_check_digit_ok is True
    assert f.sizes == {"us": "10", "uk": "9", "eur": "44", "cm": "28"}


def test_a_box_label_prints_the_style_code_without_its_dash():
    f = parse(["AIRJORDAN1RETRO", "HIGH OG", "WHITE/BLACK-VARSITYRED", "555088101", "193154415001"])
    assert f.style_code == "555088-101"
    assert f.colourway == "WHITE/BLACK-VARSITYRED"
    assert f.model_name == "AIRJORDAN1RETRO"
    assert f.gtin == "00193154415001" and f.gtin_check_digit_ok


@pytest.mark.parametrize("line, expected", [
    ("MADE IN VIETNAM", "VIETNAM"), ("FABRIQUE AU VIETNAM", "VIETNAM"), ("HECHO EN CHINA", "CHINA"),
    ("FABRIQUÉ EN INDONÉSIE", "INDONESIA"), ("FABBRICATO IN CINA", "CHINA"), ("MADEINCHINA", "CHINA"),
    ("HERGESTELLT IN VIET NAM", "VIETNAM"), ("中国制造", "CHINA"), ("越南制造", "VIETNAM"),
])
def test_made_in_is_normalised_across_languages(line, expected):
    assert parse([line]).made_in == expected


def test_a_wrong_check_digit_is_caught_and_a_right_one_passes():
    assert gtin_check_digit_ok("885259846193")
    assert not gtin_check_digit_ok("885259846194")
    f = parse(["UPC 00885259846194"])
    assert f.gtin == "00885259846194" and f.gtin_check_digit_ok is False


def test_an_impossible_date_is_kept_as_invalid_not_dropped():
    assert parse(["555088-101 13/45/19", "12/10/18"]).production_dates == ["invalid", "2018-12-10"]


def test_adidas_article_numbers_need_an_adidas_context():
    assert parse(["ADIDAS", "ART. B37571"]).style_code == "B37571"
    assert parse(["ART GX1234"], brand="adidas").style_code == "GX1234"
    assert parse(["GX1234"]).style_code is None  # a bare code of another brand's shape


def test_a_photo_without_label_text_gives_empty_fields():
    assert parse([]).empty()
    assert parse(["NIKE", "AIR"]).model_name is None and parse(["NIKE"]).empty()


def test_country_spellings():
    assert country("VIET NAM") == "VIETNAM" and country("P.R.C.") == "CHINA" and country("MARS") is None


def test_a_date_printed_against_the_style_code_and_a_cut_off_country():
    got = parse(["555088-31111/15/18", "09/19/18", "HINA", "UPC00887229655903"])
    assert got.style_code == "555088-311" and sorted(got.production_dates) == ["2018-09-19", "2018-11-15"]
    assert got.made_in == "CHINA"
    # A country's name alone counts only on a label whose other print was read.
    assert parse(["CHINA"]).made_in is None
    # A size table is such print, and "EIN" / "IN" before the name are what is left of MADE IN.
    assert parse(["UK 6", "US 6.5", "CM24.5", "EIN CHINA"]).made_in == "CHINA"
    assert parse(["US 9", "EUR 42.5", "IN VIETNAM"]).made_in == "VIETNAM"
    assert parse(["UK 6", "CHINA"]).made_in is None  # one size is no table


def test_fourteen_digits_that_number_a_carton_are_no_shoe_barcode():
    assert parse(["93150368611115"]).gtin is None  # a misread: a shoe's GTIN-14 starts with 0
    assert parse(["UPC 00193150368615"]).gtin == "00193150368615"
