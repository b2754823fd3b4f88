"""The label checks (`infer.labels.checks`): each rule passes, fails and says unknown when it should."""

from __future__ import annotations

from datetime import date

from infer.labels.checks import FAIL, PASS, UNKNOWN, ParcelLabels, check_parcel, failed_reasons
from infer.labels.fields import Fields, parse

TAG = ["MADE IN CHINA", "555088-101 02/09/15", "12/10/14", "UPC 00885259846193", "US 10 UK 9 EUR 44 CM 28"]
BOX = ["AIR JORDAN 1 RETRO HIGH OG", "WHITE/BLACK-VARSITY RED", "555088 101", "MADE IN CHINA",
       "885259846193", "US 10 UK 9 EUR 44 CM 28"]
TODAY = date(2026, 12, 7)


def outcomes(*photos: list[str], **context) -> dict[str, str]:
    labels = ParcelLabels([parse(p) for p in photos], brand="nike", today=TODAY, **context)
    return {o.check: o.outcome for o in check_parcel(labels)}


def test_a_consistent_genuine_parcel_passes_every_check_it_can_make():
    got = outcomes(TAG, BOX, ["a shoe"], dispatch_country="China")
    assert got == {"gtin_check_digit": PASS, "barcode_matches_print": UNKNOWN,
                   "style_code_agrees": PASS, "made_in_agrees": PASS,
                   "production_dates": PASS, "size_chart": PASS, "made_in_vs_dispatch": PASS}


def test_a_wrong_gtin_digit_fails():
    bad = [line.replace("846193", "846194") for line in TAG]
    assert outcomes(bad)["gtin_check_digit"] == FAIL


def test_swapped_style_codes_fail():
    assert outcomes(TAG, [line.replace("555088 101", "555088 140") for line in BOX])["style_code_agrees"] == FAIL


def test_made_in_disagreeing_between_tag_and_box_fails():
    assert outcomes(TAG, [line.replace("CHINA", "VIETNAM") for line in BOX])["made_in_agrees"] == FAIL


def test_impossible_date_ranges_fail():
    far = ["555088-101 02/09/19", "12/10/17"]  # 14 months apart
    future = ["555088-101 02/09/28", "12/10/27"]
    nonsense = ["555088-101 13/45/19", "12/10/18"]
    assert outcomes(far)["production_dates"] == FAIL
    assert outcomes(future)["production_dates"] == FAIL
    assert outcomes(nonsense)["production_dates"] == FAIL


def test_sizes_off_the_published_chart_fail():
    assert outcomes(["US 10 UK 9.5 EUR 44 CM 28"])["size_chart"] == FAIL
    assert outcomes(["US 5Y UK 4.5 EUR 37.5 CM 23.5"])["size_chart"] == PASS  # big kids' row


def test_posted_from_another_country_than_made_in_is_a_reason_not_proof():
    got = outcomes(TAG, dispatch_country="Vietnam")
    assert got["made_in_vs_dispatch"] == FAIL
    assert outcomes(TAG)["made_in_vs_dispatch"] == UNKNOWN  # no parcel record
    # Parcel records write ISO codes; a country the labels never name stays itself.
    assert outcomes(TAG, dispatch_country="VN")["made_in_vs_dispatch"] == FAIL
    assert outcomes(TAG, dispatch_country="chn")["made_in_vs_dispatch"] == PASS
    assert outcomes(TAG, dispatch_country="Deutschland")["made_in_vs_dispatch"] == FAIL


def test_nothing_read_is_unknown_everywhere_and_fails_nothing():
    labels = ParcelLabels([Fields(), Fields()], brand="nike", today=TODAY)
    got = check_parcel(labels)
    assert {o.outcome for o in got} == {UNKNOWN} and failed_reasons(got) == []


def test_failed_checks_become_label_reasons_with_their_photos():
    labels = ParcelLabels([parse(TAG), parse([line.replace("555088 101", "555088 140") for line in BOX])],
                          brand="nike", today=TODAY)
    got = check_parcel(labels)
    assert failed_reasons(got) == ["label_style_code_agrees"]
    (style,) = [o for o in got if o.check == "style_code_agrees"]
    assert style.photos == [0, 1] and style.values["style_code"] == ["555088-101", "555088-140"]


def test_bars_that_carry_another_number_than_the_print_fail():
    def check(bars: str | None, lines: list[str]) -> str:
        fields = parse(lines)
        fields.barcode = bars
        labels = ParcelLabels([fields], brand="nike", today=TODAY)
        return next(o for o in check_parcel(labels) if o.check == "barcode_matches_print").outcome

    assert check("00885259846193", BOX) == PASS
    assert check("00885259846209", BOX) == FAIL  # another shoe's GTIN, its check digit right
    assert check(None, BOX) == UNKNOWN
    # A printed number with a wrong check digit is a misread as likely as a mismatch: not compared.
    assert check("00885259846209", [line.replace("846193", "846194") for line in BOX]) == UNKNOWN
