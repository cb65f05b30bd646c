"""The native candidate scan (native/scan) is the Python scan, for every ASCII text.

`_patterns._Scanner` is the reference: the native scanner must return the same
candidate at every position, so that the detector finds the same spans whichever runs.
Texts are built from pieces of every family's values, their separators, the characters
their lookarounds look at, and the whitespace the two regex engines could read
differently (Python counts \\x1c-\\x1f as whitespace).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.redaction import _patterns
from policy_engine.redaction._patterns import _NATIVE, PatternDetector, _Scanner

pytestmark = pytest.mark.skipif(
    _NATIVE is None and _patterns.pure_python(),
    reason="POLICY_ENGINE_PURE_PYTHON=1 runs the sources, without the native scan",
)

VALUES = [
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "(415) 555-0132",
    "030 12345678",
    "06 12 34 56 78",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "DE89 3704 0044 0532 0130 00",
    "NL91ABNA0417164300",
    "123-45-6789",
    "192.168.1.20",
    "2001:db8::8a2e:370:7334",
    "::1",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "github_pat_11ABCDEFG0abcdefghijklmnopqrstu",
    "eyJhbGciOi.eyJzdWIiOi.abc-_",
    "Bearer abc.def~ghi+jk/l==",
    "https://user:hunter2@example.com/",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "AB 12 34 56 C",
    "RSSMRA85T10A562S",
    "X1234567L",
    "12345678Z",
    "2024-03-05T10",
    "0958 12345678Z",
    "x123",
    "1" * 70,
    "12 " * 30,
]
SEPARATORS = " \t\n\r\x0b\x0c\x1c\x1f.-/()+@:_#%~=,;"


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
    st.text(alphabet="abcXYZ", max_size=8),
)
ASCII_TEXT = st.lists(PIECES, max_size=10).map("".join)
CORPUS = Path(__file__).with_name("data") / "detector_corpus.jsonl"


def _native(text: str) -> Callable[[int], object]:
    assert _NATIVE is not None, "the native scan is not built: run `make setup`"
    return _NATIVE.scanner(text)


def _native_candidates(text: str) -> list[object]:
    scan = _native(text)
    return [scan(pos) for pos in range(len(text) + 2)]


def _python_candidates(text: str) -> list[object]:
    scan = _Scanner(text)
    return [scan(pos) for pos in range(len(text) + 2)]


@settings(max_examples=400, deadline=None)
@given(ASCII_TEXT)
def test_the_native_scan_finds_the_python_scans_candidate_at_every_position(text: str) -> None:
    assert _native_candidates(text) == _python_candidates(text)


def test_every_value_with_a_separator_changed_into_any_ascii_character_scans_the_same() -> None:
    # Exhaustive where the two engines could read a class differently (\s, \w, \d).
    differing = []
    for value in VALUES:
        for index in [i for i, character in enumerate(value) if not character.isalnum()][:6]:
            for code in range(128):
                text = f"x {value[:index]}{chr(code)}{value[index + 1 :]} y"
                positions = (0, 2, index + 2, index + 3)
                native, python = _native(text), _Scanner(text)
                if [native(p) for p in positions] != [python(p) for p in positions]:
                    differing.append(text)
    assert differing == []


def test_the_native_scan_agrees_on_every_corpus_text() -> None:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines()]
    ascii_texts = [text for text in texts if text.isascii()]
    assert len(ascii_texts) > 500
    for text in ascii_texts:
        assert _native_candidates(text) == _python_candidates(text), text


@pytest.mark.parametrize(
    "text",
    [
        # Whitespace to Python's \s, not to PCRE2's unless written out.
        "Bearer\x1cabcdefghijk",
        "https://user\x1c:pw@host",
        "https://user:p\x1fw@host",
        # A key block longer than the JIT's default stack would hold.
        "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 4000 + "\n-----END PRIVATE KEY-----",
        # Many BEGIN lines and one END: the END is looked for once.
        "-----BEGIN PRIVATE KEY----- x " * 200 + "-----END PRIVATE KEY-----",
        # A digit run far past the length cap, read a piece at a time.
        "06 12 34 56 78 " * 300,
        "1" * 5000,
    ],
)
def test_long_and_repetitive_texts_scan_the_same(text: str) -> None:
    assert _native_candidates(text) == _python_candidates(text)


def test_the_native_scan_refuses_text_that_is_not_ascii() -> None:
    for text in ("café 4111 1111 1111 1111", "4111 1111 1111 1111 \u2014", "\U0001f600"):
        with pytest.raises(ValueError, match="ASCII"):
            _native(text)


def test_text_that_is_not_ascii_is_scanned_by_python() -> None:
    text = "Zahlung mit Karte 4111 1111 1111 1111 für Müller"
    spans = PatternDetector().detect(text)
    assert [(text[s.start : s.end], s.entity_type) for s in spans] == [
        ("4111 1111 1111 1111", "CREDIT_CARD")
    ]


def test_a_pcre2_resource_limit_falls_back_to_the_python_scan(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A stand-in for the native patterns: no input found so far makes PCRE2 stop at one
    # of its limits (the patterns backtrack little), so the refusal is simulated.
    class Limit(Exception):
        pass

    refused: list[str] = []

    class Refusing:
        limit_error = Limit

        def scanner(self, text: str) -> Callable[[int], object]:
            def scan(pos: int) -> object:
                refused.append(text)
                raise Limit("match limit exceeded")

            return scan

    text = f"card {VALUES[6]}, mail {VALUES[0]}"
    expected = PatternDetector().detect(text)
    assert expected
    monkeypatch.setattr(_patterns, "_NATIVE", Refusing())
    assert PatternDetector().detect(text) == expected
    assert refused == [text]
