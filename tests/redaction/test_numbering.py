"""The replayed parse answers exactly as phonenumbers' parse + is_valid_number, for
international numbers of every calling code and national numbers of every region."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, PhoneMetadata

from policy_engine.redaction._numbering import TYPE_DESCS, PhoneNumbers, is_valid

NUMBERS = PhoneNumbers()
CALLING_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
REGIONS = sorted(SUPPORTED_REGIONS)
# What a digit run in text can hold between its digits (see _patterns._NUMBER).
SEPARATORS = ["", "", "", " ", "-", ".", "/", "(", ")", ") ", ")-"]


def _national_numbers(calling_code: int) -> list[str]:
    """Every example number of the code's regions, also after their national prefixes,
    so that parse's prefix stripping and region choice are exercised for each code."""
    numbers: list[str] = []
    for region in COUNTRY_CODE_TO_REGION_CODE[calling_code]:
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, region)
        assert metadata is not None
        examples = [
            desc.example_number
            for name in TYPE_DESCS
            if (desc := getattr(metadata, name)) is not None and desc.example_number
        ]
        prefixes = {"0", metadata.national_prefix or ""}
        numbers += examples + [p + e for p in prefixes for e in examples]
    return numbers or ["1234567"]


NATIONAL = {code: _national_numbers(code) for code in CALLING_CODES}


def _variants(digits: str) -> list[str]:
    """The number, one digit short, one digit long, and with each digit changed."""
    changed = [digits[:i] + str((int(d) + 1) % 10) + digits[i + 1 :] for i, d in enumerate(digits)]
    return [digits, digits[:-1], digits + "5", *changed]


def test_every_calling_codes_example_numbers_and_near_misses_match_phonenumbers() -> None:
    texts = [
        f"+{code}{variant}"
        for code in CALLING_CODES
        for national in NATIONAL[code]
        for variant in _variants(national)
    ]
    assert [t for t in texts if NUMBERS.is_valid_international(t) != is_valid(t, None)] == []


@st.composite
def written_numbers(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(CALLING_CODES))
    national = draw(st.sampled_from(NATIONAL[code]) | st.text("0123456789", max_size=18))
    if national and draw(st.booleans()):
        index = draw(st.integers(0, len(national) - 1))
        national = national[:index] + draw(st.sampled_from("0123456789")) + national[index + 1 :]
    digits = draw(st.sampled_from(["", "0", "00"])) + str(code) + national
    gaps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(digits), max_size=len(digits)))
    return "+" + "".join(gap + digit for gap, digit in zip(gaps, digits, strict=True))


@settings(max_examples=1000, deadline=None)
@given(written_numbers())
def test_written_international_number_is_valid_exactly_when_phonenumbers_says_so(
    text: str,
) -> None:
    assert NUMBERS.is_valid_international(text) == is_valid(text, None)


@settings(max_examples=300, deadline=None)
@given(st.text("+0123456789 -./()x#٣", max_size=30))
def test_any_plus_text_is_valid_exactly_when_phonenumbers_says_so(text: str) -> None:
    # Letters and non-ASCII digits are left to phonenumbers; the answer is still its own.
    text = "+" + text
    assert NUMBERS.is_valid_international(text) == is_valid(text, None)


def _written_nationally(region: str) -> list[str]:
    """A region's example numbers as its people write them, after its calling code
    with no "+", and after an international prefix: each path parse takes."""
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    code = str(metadata.country_code)
    numbers = _national_numbers(metadata.country_code)
    return [*numbers, *(code + n for n in numbers), *("00" + code + n for n in numbers)]


NATIONALLY = {region: _written_nationally(region) for region in REGIONS}


def test_every_regions_example_numbers_and_near_misses_match_phonenumbers() -> None:
    texts = [
        (region, variant)
        for region in REGIONS
        for number in NATIONALLY[region][:12]
        for variant in _variants(number)
    ]
    assert [(r, t) for r, t in texts if NUMBERS.is_valid_national(t, r) != is_valid(t, r)] == []


@st.composite
def nationally_written_numbers(draw: st.DrawFn) -> tuple[str, str]:
    region = draw(st.sampled_from(REGIONS))
    digits = draw(st.sampled_from(NATIONALLY[region]) | st.text("0123456789", max_size=18))
    if digits and draw(st.booleans()):
        index = draw(st.integers(0, len(digits) - 1))
        digits = digits[:index] + draw(st.sampled_from("0123456789")) + digits[index + 1 :]
    gaps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(digits), max_size=len(digits)))
    return region, "".join(gap + digit for gap, digit in zip(gaps, digits, strict=True))


@settings(max_examples=1000, deadline=None)
@given(nationally_written_numbers())
def test_nationally_written_number_is_valid_exactly_when_phonenumbers_says_so(
    case: tuple[str, str],
) -> None:
    region, text = case
    assert NUMBERS.is_valid_national(text, region) == is_valid(text, region)
