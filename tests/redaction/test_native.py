# ruff: noqa: RUF001  (fullwidth and other look-alike characters are what is tested)
"""The native detector (native/scan) is the Python detector, for every text.

The Python modules are the reference: the native detector must find the same spans in
any text, the same candidate at every position of any skeleton, read every code point
into the same skeleton byte, and give every check the same answer, so that which of the
two runs never changes what is redacted. Texts are built from pieces of every family's
values, their separators, the characters their lookarounds look at, and characters
outside ASCII; the checks are fed the values their libraries accept and near misses.
"""

from __future__ import annotations

import json
import re
import string
import threading
from array import array
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS
from stdnum import iban as stdnum_iban
from stdnum.fr import nir
from stdnum.it import codicefiscale

from policy_engine.redaction import PatternDetector, _native, _patterns
from policy_engine.redaction._native import native_detector
from policy_engine.redaction._numbering import PhoneNumbers
from policy_engine.redaction._numbers import ALONE, COVERING, EMBEDDED, GLUED, NumberClassifier
from policy_engine.redaction._scanner import Scanner
from policy_engine.redaction._skeleton import skeleton
from policy_engine.redaction._validators import (
    DEFAULT_PHONE_REGIONS,
    email_bounds,
    is_iban,
    is_ipv6,
    is_nino,
    national_id_type,
)
from tests.redaction.test_numbering import NATIONAL, NATIONALLY, _variants

pytestmark = pytest.mark.skipif(
    not _native.NATIVE_SCAN,
    reason="the native detector is not built (make setup), or POLICY_ENGINE_PURE_PYTHON=1",
)

DETECTOR = PatternDetector()
NATIVE = native_detector(DEFAULT_PHONE_REGIONS)
CLASSIFIER = NumberClassifier()
NUMBERS = PhoneNumbers()
CORPUS = Path(__file__).with_name("data") / "detector_corpus.jsonl"

VALUES = [
    "jane.doe@example.com",
    "jöhn@exämple.de",
    "用户@例子.广告",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "+1 (415) 555-0132",
    "(415) 555-0132",
    "(250) 222-7606",
    "030 12345678",
    "06 12 34 56 78",
    "06\u00a012\u00a034\u00a056\u00a078",
    "4111 1111 1111 1111",
    "4111-1111 1111.1111",
    "４１１１１１１１１１１１１１１１",
    "DE89 3704 0044 0532 0130 00",
    "de89370400440532013000",
    "NL91ABNA0417164300",
    "BE71 0961 2345 6769",
    "ES91 2100 0418 4502 0005 1332",
    "NO93 8601 1117 947",
    "123-45-6789",
    "SSN: 536229145",
    "192.168.1.20",
    "203.0.113.7:8080",
    "2001:db8::8a2e:370:7334",
    "::ffff:192.0.2.1",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "eyJhbGciOi.eyJzdWIiOi.abc-_",
    "Bearer abc.def~ghi+jk/l==",
    "Authorization: Basic dXNlcjpwYXNz",
    "DB_PASSWORD='s3cr3t pass'",
    "api_key: a1b2c3d4e5f6",
    "https://user:hunter2@example.com/",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA12\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEAq3QpZ1x0\nabcd",
    "Private-Lines: 1\nAAAAIGgn5F0E2qkzXbIj\n",
    "AB 12 34 56 C",
    "RSSMRA85T10A562S",
    "X1234567L",
    "12345678Z",
    "2 64 07 75 056 874 57",
    "1 63 11 2A 004 917 48",
    "2341 2341 2346",
    "111222333",
    "36574261809",
    "2024-03-05T10",
    "0958 12345678Z",
    "x123",
    "%2B14155550132",
    "card4111111111111111",
    "ORD-2024-118734",
    "9f86d081884c7d659a2f",
    "1" * 70,
    "12 " * 30,
    "1 " * 40,
]
SEPARATORS = " \t\n\r\x0b\x0c\x1c\x1f.-/()+@:_#%~=,;'\"\u00a0\u202f\u2011\u3002"


def _with_separators_changed(value: str, replacements: list[str]) -> str:
    """`value` with its first separators replaced in turn ("" keeps one)."""
    characters = list(value)
    separators = [i for i, character in enumerate(characters) if not character.isalnum()]
    for index, replacement in zip(separators, replacements, strict=False):
        characters[index] = replacement or characters[index]
    return "".join(characters)


# Whole values, each cut in two (so that separators fall inside them), and values with
# their separators changed (so that every family meets each of them).
FRAGMENTS = sorted(
    {part for value in VALUES for cut in (3, 6, 11) for part in (value[:cut], value[cut:])}
)
CHANGED = st.builds(
    _with_separators_changed,
    st.sampled_from(VALUES),
    st.lists(st.sampled_from(["", *SEPARATORS]), max_size=4),
)
PIECES = st.one_of(
    st.sampled_from(VALUES),
    st.sampled_from(FRAGMENTS),
    CHANGED,
    st.text(alphabet="0123456789", min_size=1, max_size=14),
    st.text(alphabet=SEPARATORS + "Bbkey", max_size=4),
    st.text(alphabet="abcXYZéü用😀", max_size=8),
)
TEXT = st.lists(PIECES, max_size=10).map("".join)


def spans(text: str) -> tuple[list[tuple[int, int, str]], list[tuple[int, int, str]]]:
    """(native, Python) spans of `text`."""
    assert NATIVE is not None
    read = skeleton(text)
    python = [(s.start, s.end, s.entity_type) for s in DETECTOR._detect(read, Scanner(read))]
    return NATIVE.detect(text), python


def candidates(text: str) -> tuple[list[object], list[object]]:
    """(native, Python) candidates of the skeleton `text` at every position."""
    assert NATIVE is not None
    native, python = NATIVE.scanner(text), Scanner(text)
    positions = range(len(text) + 2)
    return [native(p) for p in positions], [python(p) for p in positions]


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_the_native_detector_finds_the_python_detectors_spans_in_any_text(text: str) -> None:
    native, python = spans(text)
    assert native == python


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_the_native_scan_finds_the_python_scans_candidate_at_every_position(text: str) -> None:
    native, python = candidates(skeleton(text))
    assert native == python


def test_the_native_detector_agrees_on_every_corpus_text() -> None:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines()]
    assert len(texts) > 500
    assert [t for t in texts if spans(t)[0] != spans(t)[1]] == []
    for text in texts[:200]:
        native, python = candidates(skeleton(text))
        assert native == python, text


def test_every_value_with_a_separator_changed_into_any_ascii_character_scans_the_same() -> None:
    # Exhaustive where the two engines could read a class differently (\s, \w, \d).
    differing = []
    assert NATIVE is not None
    for value in VALUES:
        for index in [i for i, character in enumerate(value) if not character.isalnum()][:6]:
            for code in range(128):
                text = skeleton(f"x {value[:index]}{chr(code)}{value[index + 1 :]} y")
                positions = (0, 2, index + 2, index + 3)
                native, python = NATIVE.scanner(text), Scanner(text)
                if [native(p) for p in positions] != [python(p) for p in positions]:
                    differing.append(text)
    assert differing == []


@pytest.mark.parametrize(
    "text",
    [
        "Bearer\x1cabcdefghijk",
        "https://user\x1c:pw@host",
        "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 4000 + "\n-----END PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 6000,
        "-----BEGIN PRIVATE KEY----- x " * 200 + "-----END PRIVATE KEY-----",
        "06 12 34 56 78 " * 300,
        "4111 1111 1111 1111 " * 200,
        "1" * 5000,
        "1 " * 3000,
        "password=" + "x" * 400,
        '"password": "' + "a b " * 100 + '"',
        "a@b.c1 " * 300,
    ],
)
def test_long_and_repetitive_texts_read_the_same(text: str) -> None:
    native, python = spans(text)
    assert native == python
    native_candidates, python_candidates = candidates(skeleton(text))
    assert native_candidates == python_candidates


def test_every_code_point_reads_into_the_same_skeleton_byte() -> None:
    assert NATIVE is not None
    everything = array("I", range(0x110000)).tobytes().decode("utf-32-le", "surrogatepass")
    for start in range(0, len(everything), 0x10000):
        chunk = everything[start : start + 0x10000]
        assert NATIVE.skeleton(chunk) == skeleton(chunk), hex(start)


_DIGIT_RUNS = st.lists(
    st.one_of(
        st.text("0123456789", min_size=1, max_size=6),
        st.sampled_from([" ", " ", "-", ".", "/", "(0)", " (415) ", ") ", "+", "00", "%2B"]),
    ),
    min_size=1,
    max_size=10,
).map("".join)
_PRECEDING = st.sampled_from(["", "card ", "Aadhaar ", "version ", "SSN: ", "tel. ", "x" * 50])


@settings(max_examples=1000, deadline=None)
@given(_DIGIT_RUNS, _PRECEDING, st.sampled_from([ALONE, EMBEDDED, COVERING, GLUED]))
def test_a_sequence_of_digit_groups_is_classified_the_same(
    candidate: str, preceding: str, mode: int
) -> None:
    assert NATIVE is not None
    assert NATIVE.classify(candidate, preceding, mode) == CLASSIFIER.classify(
        candidate, preceding, mode
    )


def _phone_texts() -> list[tuple[str, str | None]]:
    international: list[tuple[str, str | None]] = [
        (f"+{code}{variant}", None)
        for code in sorted(COUNTRY_CODE_TO_REGION_CODE)
        for national in NATIONAL[code][:6]
        for variant in _variants(national)[:6]
    ]
    national = [
        (variant, region)
        for region in sorted(SUPPORTED_REGIONS)
        for number in NATIONALLY[region][:6]
        for variant in _variants(number)[:4]
    ]
    return international + national


def test_the_phone_replay_answers_as_pythons_for_every_calling_code_and_region() -> None:
    assert NATIVE is not None
    differing = []
    for text, region in _phone_texts():
        python = (
            NUMBERS.is_valid_international(text)
            if region is None
            else NUMBERS.is_valid_national(text, region)
        )
        if NATIVE.phone(text, region) != python:
            differing.append((text, region))
    assert differing == []


def _ibans() -> list[str]:
    """For every country stdnum knows: a valid IBAN, lower-cased, grouped by fours, and
    with wrong check digits."""
    numbers = []
    for country, structure, _ in _native._iban_structures():
        parts = re.findall(r"\[(0-9|A-Z|A-Za-z0-9)\]\{(\d+)\}", structure)
        body = "".join({"0-9": "7", "A-Z": "B", "A-Za-z0-9": "9"}[c] * int(n) for c, n in parts)
        check = stdnum_iban.calc_check_digits(country + "00" + body)
        valid = country + check + body
        wrong = f"{country}{(int(check) + 1) % 100:02d}{body}"
        grouped = " ".join(valid[i : i + 4] for i in range(0, len(valid), 4))
        numbers += [valid, valid.lower(), grouped, wrong]
    return numbers


def test_every_iban_country_is_checked_as_stdnum_checks_it() -> None:
    assert NATIVE is not None
    differing = [n for n in _ibans() if (NATIVE.check("iban", n) == "IBAN_CODE") != is_iban(n)]
    assert differing == []
    assert len(_ibans()) > 200


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["ES", "NO", "ME", "BE"]), st.text("0123456789", min_size=10, max_size=20))
def test_ibans_of_countries_with_their_own_check_are_checked_as_stdnum_checks_them(
    country: str, body: str
) -> None:
    assert NATIVE is not None
    number = country + stdnum_iban.calc_check_digits(country + "00" + body) + body
    assert (NATIVE.check("iban", number) == "IBAN_CODE") == is_iban(number)


def _nir(body: str, valid: bool) -> str:
    """A NIR of 13 characters and its check digits, right or wrong."""
    if body[5:7] not in ("2A", "2B") and not body[5:7].isdigit():
        return body + "00"
    check = int(nir.calc_check_digits(body.upper() + "00"))
    return body + f"{check if valid else (check + 1) % 100:02d}"


def _codice_fiscale(body: str) -> str:
    return body + codicefiscale.calc_check_digit(body)


_CF_BODY = st.builds(
    lambda letters, year, month, day, town, digits: letters + year + month + day + town + digits,
    st.text(string.ascii_uppercase, min_size=6, max_size=6),
    st.text("0123456789LMNPQRSTUV", min_size=2, max_size=2),
    st.sampled_from("ABCDEHLMPRST"),
    st.text("0123456789LMNPQRSTUV", min_size=2, max_size=2),
    st.sampled_from(string.ascii_uppercase),
    st.text("0123456789LMNPQRSTUV", min_size=3, max_size=3),
)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        _CF_BODY.map(_codice_fiscale),
        _CF_BODY.map(lambda body: body + "A"),
        st.builds(lambda n, c: f"{n:08d}{c}", st.integers(0, 10**8 - 1), st.sampled_from("TRWAZ")),
        st.builds(
            lambda head, department, tail, valid: _nir(f"{head}{department}{tail}", valid),
            st.text("0123456789", min_size=5, max_size=5),
            st.sampled_from(["2A", "2B", "2a", "20", "2C"]),
            st.text("0123456789", min_size=6, max_size=6),
            st.booleans(),
        ),
        st.builds(
            lambda x, n, c: f"{x}{n:07d}{c}",
            st.sampled_from("XYZ"),
            st.integers(0, 10**7 - 1),
            st.sampled_from("LTRWA"),
        ),
    )
)
def test_national_ids_are_checked_as_stdnum_checks_them(candidate: str) -> None:
    assert NATIVE is not None
    assert NATIVE.check("national_id", candidate) == national_id_type(candidate)


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.builds(
            lambda parts, v4: ":".join(parts) + (v4 and ":" + v4),
            st.lists(st.text("0123456789abcdefABCDEF", max_size=5), min_size=1, max_size=10),
            st.sampled_from(["", "1.2.3.4", "192.168.001.1", "256.1.1.1"]),
        ),
        st.text("0123456789abcdef:.", min_size=2, max_size=24),
    )
)
def test_ipv6_addresses_are_read_as_ipaddress_reads_them(candidate: str) -> None:
    assert NATIVE is not None
    python = "IP_ADDRESS" if ":" in candidate and is_ipv6(candidate) else None
    native = NATIVE.check("ipv6", candidate) if ":" in candidate else None
    assert native == python


@given(st.text("ABCDGHJKLMNOPQRSTWXYZ0123456789 ", min_size=9, max_size=13))
def test_ninos_are_checked_alike(candidate: str) -> None:
    assert NATIVE is not None
    assert (NATIVE.check("nino", candidate) == "UK_NINO") == is_nino(candidate)


@given(
    st.text("ab.\x01\x03-", min_size=1, max_size=10),
    st.text("ab.\x01\x03-x1", min_size=1, max_size=12),
)
def test_email_addresses_are_bounded_alike(local: str, domain: str) -> None:
    assert NATIVE is not None
    candidate = f"{local}@{domain}"
    assert NATIVE.check("email", candidate) == email_bounds(candidate)


def test_a_pcre2_resource_limit_falls_back_to_the_python_detector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stand-in for the native detector: no input found so far makes PCRE2 stop at one
    # of its limits (the patterns backtrack little), so the refusal is simulated.
    class Limit(Exception):
        pass

    refused: list[str] = []

    class Refusing:
        limit_error = Limit

        def detect(self, text: str) -> list[tuple[int, int, str]]:
            refused.append(text)
            raise Limit("match limit exceeded")

    text = "card 4111 1111 1111 1111, mail jane.doe@example.com"
    detector = PatternDetector()
    expected = detector.detect(text)
    assert expected
    monkeypatch.setattr(detector, "_native", Refusing())
    assert detector.detect(text) == expected
    assert refused == [text]


def test_metadata_fetched_from_python_while_the_gil_is_released_is_read() -> None:
    # A fresh detector has fetched no calling code yet: reading a Japanese number in a
    # thread fetches +81's metadata from Python from inside the native scan.
    fresh = native_detector(["FR"])
    assert fresh is not None
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.append(fresh.detect("tel +81 3-1234-5678")))
    worker.start()
    worker.join(timeout=60)
    assert found == [[(4, 19, "PHONE_NUMBER")]]


def test_the_detector_reports_which_scan_reads_texts() -> None:
    assert DETECTOR.native
    assert _patterns.PatternDetector(["FR"]).native


Scan = Callable[[int], object]


def test_threads_detecting_at_once_find_what_one_thread_finds() -> None:
    # The native detector reads without the GIL: its caches and match data are shared.
    assert NATIVE is not None
    texts = [" ".join(VALUES[i::4]) * 20 for i in range(4)]
    expected = [NATIVE.detect(text) for text in texts]
    fresh = native_detector(DEFAULT_PHONE_REGIONS)
    assert fresh is not None
    found: dict[int, list[object]] = {}
    workers = [
        threading.Thread(
            target=lambda i=i: found.__setitem__(i, [fresh.detect(texts[i]) for _ in range(5)])
        )
        for i in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert all(found[i] == [expected[i]] * 5 for i in range(4))
