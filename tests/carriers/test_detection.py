"""Detecting carriers from tracking numbers: check digits, ranking, ambiguity.

Valid numbers are carriers' published samples (and the UPU S10 standard's
example); each invalid one is a valid one with its check digit changed.
"""

import pytest

from order_updates.carriers import checkdigits
from order_updates.carriers.detection import detect

# (number, carrier it is, service) — unambiguous numbers: one strong candidate.
UNAMBIGUOUS = [
    ("1Z5R89390357567127", "ups"),
    ("1Z879E930346834440", "ups"),
    ("1Z 410E 7W03 9275 1591", "ups"),  # as printed, with spaces
    ("9400 1112 0108 0805 4830 16", "usps"),
    ("9361289676091361892011", "usps"),
    ("420221539101026837331000039521", "usps"),
    ("EA123456785US", "usps"),
    ("RB123456785GB", "royal_mail"),
    ("LX123456785DE", "deutsche_post"),
    ("RR123456785FR", "la_poste"),
    ("CP123456785CA", "canada_post"),
    ("RR123456785AU", "australia_post"),
    ("RR123456785IT", "poste_italiane"),
    ("RR123456785ES", "correos"),
    ("EE123456785JP", "japan_post"),
    ("EA123456785CN", "china_post"),
    ("RR123456785NL", "postnl"),
    ("3SABCD123456789", "postnl"),
    ("TBA502887274000", "amazon_logistics"),
    ("JJD0099999999", "dhl_express"),
    ("008182709980000020033350276C", "dpd"),
    ("9611020987654312345672", "fedex"),
]


@pytest.mark.parametrize(("number", "code"), UNAMBIGUOUS)
def test_unambiguous_numbers_name_their_carrier(number, code):
    detection = detect(number)
    assert detection.carrier is not None, detection.codes
    assert detection.carrier.code == code


@pytest.mark.parametrize(
    ("number", "algorithm"),
    [
        ("1Z5R89390357567127", checkdigits.ups),
        ("9400111201080805483016", checkdigits.mod10_3_1),
        ("03071790000523483741", checkdigits.mod10_3_1),
        ("986578788855", checkdigits.fedex_express),
        ("568283610012000", checkdigits.mod10_3_1),
        ("3318810025", checkdigits.mod7),
        ("73891051146", checkdigits.mod7),
        ("RB123456785GB", checkdigits.s10),
        ("008182709980000020045327276N", checkdigits.iso7064_mod37_36),
        ("00340434161094042557", checkdigits.mod10_3_1),
    ],
)
def test_check_digits_hold_and_a_changed_digit_fails(number, algorithm):
    assert algorithm(number)
    last = number[-1]
    if number[-2:].isalpha():  # S10: the check digit sits before the country
        changed = number[:10] + str((int(number[10]) + 1) % 10) + number[11:]
    elif last.isdigit():
        changed = number[:-1] + str((int(last) + 1) % 10)
    else:
        changed = number[:-1] + ("A" if last != "A" else "B")
    assert not algorithm(changed)


@pytest.mark.parametrize(
    "number",
    [
        "1Z5R89390357567128",  # UPS, wrong check digit
        "RB123456786GB",  # S10, wrong check digit
        "TBA50288727400A",
        "008182709980000020033350276A",  # DPD, wrong check character
    ],
)
def test_a_wrong_check_digit_is_no_strong_candidate(number):
    detection = detect(number)
    assert detection.carrier is None
    assert all(not c.strong for c in detection.candidates)


def test_twelve_digits_are_ambiguous_and_never_a_confident_answer():
    # A valid FedEx Express number that is also a valid Japan Post one (mod 7),
    # and has the shape of GLS and DHL Paket numbers.
    number = "986578788855"
    assert checkdigits.fedex_express(number)
    detection = detect(number)
    assert detection.carrier is None
    assert detection.codes[0] == "fedex"
    assert set(detection.codes) >= {"fedex", "gls", "dhl_paket"}
    strong = [c.carrier.code for c in detection.candidates if c.strong]
    weak = [c.carrier.code for c in detection.candidates if not c.strong]
    assert detection.codes == strong + weak


def test_mod7_numbers_of_dhl_and_japan_post_are_both_offered():
    # 11 digits: DHL Express (mod 7) or GLS (shape only).
    detection = detect("73891051146")
    assert detection.codes[0] == "dhl_express"
    assert "gls" in detection.codes
    assert detection.carrier is None


def test_sscc_of_dhl_paket_also_fits_usps_twenty_digits():
    detection = detect("00340434161094042557")
    assert {"dhl_paket", "usps"} <= set(detection.codes)
    assert detection.carrier is None


def test_a_shape_alone_is_a_weak_candidate_and_not_an_answer():
    detection = detect("123456789012345678901234")  # InPost's 24 digits
    assert detection.codes == ["inpost"]
    assert detection.carrier is None


def test_nothing_matches_garbage():
    assert detect("hello").candidates == []
    assert detect("").candidates == []
