"""Invariants over arbitrary text: round trip, nothing left behind, chunking-independent streams."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters._model import StreamEnd, TextDelta, ToolCallDelta
from policy_engine.redaction import (
    ENTITY_TYPES,
    PatternDetector,
    RedactionSession,
    default_redactor,
)

REDACTOR = default_redactor()
DETECTOR = PatternDetector()
FAST = settings(max_examples=200, deadline=None)

PII = [
    "jane.doe@example.com",
    "a.b+c@mail.example.co.uk",
    "+44 20 7946 0958",
    "(415) 555-0132",
    "030 12345678",
    "06 12 34 56 78",
    "4111 1111 1111 1111",
    "378282246310005",
    "DE89 3704 0044 0532 0130 00",
    "NL91ABNA0417164300",
    "123-45-6789",
    "192.168.1.20",
    "2001:db8::8a2e:370:7334",
    "sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "AB 12 34 56 C",
    "36574261809",
    "264077505687457",
    "12345678Z",
    "X1234567L",
    "RSSMRA85T10A562S",
    "111222333",
    "2341 2341 2346",
]
PLACEHOLDER_LIKE = [
    "<EMAIL_ADDRESS_1>",
    "<PHONE_NUMBER_2>",
    "<EMAIL_ADDRESS_",
    "<SECRET_1",
    "<",
    ">",
    "_1>",
    "<<EMAIL_ADDRESS_1>>",
]
# Filler that cannot itself form a value, so every PII sample's fate is known.
FILLER = st.text(alphabet="abcxyz ,.;:!?()<>_-\n", max_size=12)

any_text = st.lists(
    st.one_of(st.text(max_size=20), st.sampled_from(PII), st.sampled_from(PLACEHOLDER_LIKE)),
    max_size=8,
).map("".join)

text_with_pii = st.lists(
    st.one_of(FILLER, st.sampled_from(PII), st.sampled_from(PLACEHOLDER_LIKE)), max_size=8
).map(" ".join)


@FAST
@given(any_text)
def test_restore_of_redact_is_the_identity_for_any_text(text: str) -> None:
    session = REDACTOR.session()
    assert session.restore_text(session.redact_text(text, ENTITY_TYPES)) == text


@FAST
@given(any_text)
def test_no_detected_value_survives_redaction(text: str) -> None:
    values = {text[s.start : s.end] for s in DETECTOR.detect(text)}
    redacted = REDACTOR.session().redact_text(text, ENTITY_TYPES)
    assert not [v for v in values if v in redacted and v not in _outside_spans(text)]


@FAST
@given(text_with_pii)
def test_no_inserted_value_survives_redaction(text: str) -> None:
    redacted = REDACTOR.session().redact_text(text, ENTITY_TYPES)
    assert [v for v in PII if v in redacted] == []


# Numbers as people write them one after another ("call 030 12345678 06 12 34 56 78"):
# one digit run to the detector, to be split into its values; five or more reach past
# the 64-digit candidate cap.
NUMBERS = [value for value in PII if set(value) <= set("0123456789 ()+-")]


@FAST
@given(st.lists(st.sampled_from(NUMBERS), min_size=5, max_size=60).map(" ".join))
def test_no_number_in_a_run_of_adjacent_numbers_survives(text: str) -> None:
    redacted = REDACTOR.session().redact_text(text, ENTITY_TYPES)
    assert [v for v in NUMBERS if v in redacted] == []


def _outside_spans(text: str) -> str:
    """The text with detected spans cut out, to tell a survivor from an undetected copy."""
    pieces, last = [], 0
    for span in DETECTOR.detect(text):
        pieces.append(text[last : span.start])
        last = span.end
    pieces.append(text[last:])
    return "\0".join(pieces)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({0, len(text), *(c % (len(text) + 1) for c in cuts)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


answer = st.lists(
    st.one_of(
        st.text(max_size=10),
        st.sampled_from(["<EMAIL_ADDRESS_1>", "<PHONE_NUMBER_1>", "<SECRET_1>"]),
        st.sampled_from([*PLACEHOLDER_LIKE, "<EMAIL_ADDRESS_99>", "<PHONE_NUMBER_1"]),
    ),
    max_size=10,
).map("".join)


def _streaming_session() -> RedactionSession:
    session = REDACTOR.session()
    session.redact_text('jane@example.com +44 20 7946 0958 x://u:p"w@h', ENTITY_TYPES)
    return session


@FAST
@given(answer, st.lists(st.integers(min_value=0), max_size=12))
def test_streamed_text_restores_like_the_unsplit_answer(text: str, cuts: list[int]) -> None:
    session = _streaming_session()
    restorer = session.stream_restorer()
    out = []
    for chunk in _split(text, cuts):
        out += restorer.feed(TextDelta(chunk))
    out += restorer.feed(StreamEnd("stop"))
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == session.restore_text(text)


@FAST
@given(answer, st.lists(st.integers(min_value=0), max_size=12))
def test_streamed_tool_arguments_restore_like_the_unsplit_arguments(
    text: str, cuts: list[int]
) -> None:
    session = _streaming_session()
    restorer = session.stream_restorer()
    out = []
    for chunk in _split(text, cuts):
        out += restorer.feed(ToolCallDelta(0, None, None, chunk))
    out += restorer.flush()
    joined = "".join(e.arguments for e in out if isinstance(e, ToolCallDelta))
    assert joined == session.restore_json_text(text)
