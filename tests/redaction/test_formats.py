# ruff: noqa: RUF001  (fullwidth and other look-alike characters are what is tested)
"""Values written the way people and machines write them, not only the tidy way.

Each class of format the detector missed (issue 20) is a table below: the text, and the
values it must find in it. A value must be found whatever character precedes it (a
label's colon, a bracket, an equals sign, a hash, a hyphen, a letter), whatever spaces or
dashes separate its digits (no-break, narrow no-break and thin spaces, tabs, mixed
separators, dots), in fullwidth forms, in lower case, and with non-ASCII letters.
"""

from __future__ import annotations

import pytest

from policy_engine.redaction import DEFAULT_PHONE_REGIONS, PatternDetector

DETECTOR = PatternDetector()


def found(text: str, detector: PatternDetector = DETECTOR) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.entity_type) for s in detector.detect(text)]


AFTER_PUNCTUATION = [
    ("SSN:123-45-6789", [("123-45-6789", "US_SSN")]),
    ("SSN#536-22-9145", [("536-22-9145", "US_SSN")]),
    ("(536-22-9145)", [("536-22-9145", "US_SSN")]),
    ("card:4111111111111111", [("4111111111111111", "CREDIT_CARD")]),
    ("card=4111-1111-1111-1111&exp=12", [("4111-1111-1111-1111", "CREDIT_CARD")]),
    ("/cards/4111111111111111/charge", [("4111111111111111", "CREDIT_CARD")]),
    ("tel:+442079460958", [("+442079460958", "PHONE_NUMBER")]),
    ('<a href="tel:+14155550132">call</a>', [("+14155550132", "PHONE_NUMBER")]),
    ("?phone=%2B14155550132&x=1", [("%2B14155550132", "PHONE_NUMBER")]),
    ("?phone=4155550132&x=1", [("4155550132", "PHONE_NUMBER")]),
    ("ip:10.1.2.3", [("10.1.2.3", "IP_ADDRESS")]),
    ("x-forwarded-for:203.0.113.7", [("203.0.113.7", "IP_ADDRESS")]),
    ("client (203.0.113.7) refused", [("203.0.113.7", "IP_ADDRESS")]),
    ("[198.51.100.23]", [("198.51.100.23", "IP_ADDRESS")]),
    ("mailto:jane.roe@example.org", [("jane.roe@example.org", "EMAIL_ADDRESS")]),
]

AFTER_A_LETTER_OR_HYPHEN = [
    ("SSN536-22-9145", [("536-22-9145", "US_SSN")]),
    ("ref-4111111111111111", [("4111111111111111", "CREDIT_CARD")]),
    ("card4111 1111 1111 1111", [("4111 1111 1111 1111", "CREDIT_CARD")]),
    ("id-536-22-9145", [("536-22-9145", "US_SSN")]),
    ("host10.1.2.3", [("10.1.2.3", "IP_ADDRESS")]),
]

IP_WITH_A_PORT = [
    ("connect to 203.0.113.7:8080 now", [("203.0.113.7", "IP_ADDRESS")]),
    ("upstream=10.0.0.12:443", [("10.0.0.12", "IP_ADDRESS")]),
    ("peer [2001:db8::1]:443", [("2001:db8::1", "IP_ADDRESS")]),
]

SEPARATORS = [
    ("card 4111.1111.1111.1111", [("4111.1111.1111.1111", "CREDIT_CARD")]),
    ("card 4111 1111-1111 1111", [("4111 1111-1111 1111", "CREDIT_CARD")]),
    ("card 4111-1111 1111.1111", [("4111-1111 1111.1111", "CREDIT_CARD")]),
    (
        "card 4111\u00a01111\u00a01111\u00a01111",
        [("4111\u00a01111\u00a01111\u00a01111", "CREDIT_CARD")],
    ),
    (
        "card 4111\u202f1111\u202f1111\u202f1111",
        [("4111\u202f1111\u202f1111\u202f1111", "CREDIT_CARD")],
    ),
    (
        "card 4111\u20091111\u20091111\u20091111",
        [("4111\u20091111\u20091111\u20091111", "CREDIT_CARD")],
    ),
    ("card\t4111\t1111\t1111\t1111\t", [("4111\t1111\t1111\t1111", "CREDIT_CARD")]),
    (
        "tél. 06\u00a012\u00a034\u00a056\u00a078",
        [("06\u00a012\u00a034\u00a056\u00a078", "PHONE_NUMBER")],
    ),
    ("tel 020\u20117946\u20110958", [("020\u20117946\u20110958", "PHONE_NUMBER")]),
    ("ssn 536\u201322\u20139145", [("536\u201322\u20139145", "US_SSN")]),
    (
        "IBAN FR76\u202f3000\u202f6000\u202f0112\u202f3456\u202f7890\u202f189",
        [("FR76\u202f3000\u202f6000\u202f0112\u202f3456\u202f7890\u202f189", "IBAN_CODE")],
    ),
    (
        "IBAN DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000",
        [("DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", "IBAN_CODE")],
    ),
    (
        "card 4111\u200b1111\u200b1111\u200b1111",
        [("4111\u200b1111\u200b1111\u200b1111", "CREDIT_CARD")],
    ),
]

FULLWIDTH_AND_OTHER_DIGITS = [
    (
        "カード４１１１１１１１１１１１１１１１です",
        [("４１１１１１１１１１１１１１１１", "CREDIT_CARD")],
    ),
    ("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", [("ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "EMAIL_ADDRESS")]),
    ("mail jane＠example.com", [("jane＠example.com", "EMAIL_ADDRESS")]),
    ("tel ＋４４ ２０ ７９４６ ０９５８", [("＋４４ ２０ ７９４６ ０９５８", "PHONE_NUMBER")]),
    ("SSN ١٢٣-٤٥-٦٧٨٩", [("١٢٣-٤٥-٦٧٨٩", "US_SSN")]),
    ("card 𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏", [("𝟒𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏 𝟏𝟏𝟏𝟏", "CREDIT_CARD")]),
]

CASE_AND_LETTERS = [
    ("iban de89370400440532013000", [("de89370400440532013000", "IBAN_CODE")]),
    ("iban de89 3704 0044 0532 0130 00.", [("de89 3704 0044 0532 0130 00", "IBAN_CODE")]),
    ("iban gb82 west 1234 5698 7654 32", [("gb82 west 1234 5698 7654 32", "IBAN_CODE")]),
    ("iban Nl91AbNa0417164300", [("Nl91AbNa0417164300", "IBAN_CODE")]),
    ("écrire à jöhn.müller@exämple.de", [("jöhn.müller@exämple.de", "EMAIL_ADDRESS")]),
    ("почта: иван@пример.рф", [("иван@пример.рф", "EMAIL_ADDRESS")]),
    ("用户@例子.广告", [("用户@例子.广告", "EMAIL_ADDRESS")]),
    ("请发邮件到jane@example.com谢谢", [("jane@example.com", "EMAIL_ADDRESS")]),
    ("«jane@example.com»", [("jane@example.com", "EMAIL_ADDRESS")]),
    ("राम@उदाहरण.भारत", [("राम@उदाहरण.भारत", "EMAIL_ADDRESS")]),
    ("jane@xn--bcher-kva.example", [("jane@xn--bcher-kva.example", "EMAIL_ADDRESS")]),
]

SSN_WITHOUT_DASHES = [
    ("SSN: 536229145", [("536229145", "US_SSN")]),
    ("ssn 536229145", [("536229145", "US_SSN")]),
    ("Social Security Number: 536229145.", [("536229145", "US_SSN")]),
    ("SSN#536229145", [("536229145", "US_SSN")]),
    ("social security no. 536 22 9145", [("536 22 9145", "US_SSN")]),
]

NANP_COUNTRIES = [
    ("call (250) 222-7606", [("(250) 222-7606", "PHONE_NUMBER")]),
    ("call 250-222-7606", [("250-222-7606", "PHONE_NUMBER")]),
    ("call +1 (416) 555-0199", [("+1 (416) 555-0199", "PHONE_NUMBER")]),
    ("Jamaica (876) 927-1234", [("(876) 927-1234", "PHONE_NUMBER")]),
    ("Puerto Rico 787-722-1234", [("787-722-1234", "PHONE_NUMBER")]),
    ("call 1 (800) 555-0199", [("1 (800) 555-0199", "PHONE_NUMBER")]),
]

IDS_WITH_LETTERS_AND_LEGACY_PREFIXES = [
    ("NIR 163112A00491748 ok", [("163112A00491748", "FR_NIR")]),
    ("NIR 1 63 11 2A 004 917 48.", [("1 63 11 2A 004 917 48", "FR_NIR")]),
    ("card 0604-8428-2383 ok", [("0604-8428-2383", "CREDIT_CARD")]),
]

CASES = [
    *AFTER_PUNCTUATION,
    *AFTER_A_LETTER_OR_HYPHEN,
    *IP_WITH_A_PORT,
    *SEPARATORS,
    *FULLWIDTH_AND_OTHER_DIGITS,
    *CASE_AND_LETTERS,
    *SSN_WITHOUT_DASHES,
    *NANP_COUNTRIES,
    *IDS_WITH_LETTERS_AND_LEGACY_PREFIXES,
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_value_written_untidily_is_found_whole(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


def test_a_card_followed_by_its_expiry_is_still_found() -> None:
    assert found("card 4111 1111 1111 1111 12 2029 cvc") == [("4111 1111 1111 1111", "CREDIT_CARD")]


def test_an_international_number_keeps_its_calling_code_before_a_bracketed_area_code() -> None:
    assert found("call +1 (415) 555-0132 today") == [("+1 (415) 555-0132", "PHONE_NUMBER")]


def test_nine_digits_without_a_label_are_not_an_ssn() -> None:
    assert [t for _, t in found("reference 536229145 today")] != ["US_SSN"]


def test_ssn_label_far_before_the_digits_does_not_count() -> None:
    text = "SSN is not required for this form, use order 536229145 instead"
    assert [t for _, t in found(text)] != ["US_SSN"]


def test_nanp_countries_are_in_the_default_phone_regions() -> None:
    assert {"US", "CA", "JM", "PR", "BS", "TT"} <= set(DEFAULT_PHONE_REGIONS)


def test_phone_regions_decide_which_national_formats_count() -> None:
    french_only = PatternDetector(phone_regions=["FR"])
    assert found("call 06 12 34 56 78 or (415) 555-0132", french_only) == [
        ("06 12 34 56 78", "PHONE_NUMBER")
    ]
    assert found("call +1 415 555 0132", french_only) == [("+1 415 555 0132", "PHONE_NUMBER")]
