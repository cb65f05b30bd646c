"""The detector against its recorded results, and against itself with the libraries' checks.

data/detector_corpus.jsonl holds texts with the spans the detector found before its
speed work (issue 8): the redaction bench's Faker documents (every locale and type,
and the look-alikes), 300-character cuts of them, ~1 KB prompts, and generated text
full of digit runs with every separator and calling code. A deliberate change of
results re-records the spans: `python -m tests.redaction.test_corpus`.

The comparison with the libraries' checks swaps functions in the Python detector's
modules, so it reads texts with the Python detector (tests/redaction/test_native.py holds
the native one equal to it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from stdnum import luhn

from policy_engine.redaction import PatternDetector, _validators
from policy_engine.redaction._numbering import PhoneNumbers, is_valid
from policy_engine.redaction._scanner import Scanner
from policy_engine.redaction._skeleton import skeleton

CORPUS = Path(__file__).with_name("data") / "detector_corpus.jsonl"
DETECTOR = PatternDetector()


def found(text: str) -> list[list[int | str]]:
    return [[s.start, s.end, s.entity_type] for s in DETECTOR.detect(text)]


def found_by_python(text: str) -> list[list[int | str]]:
    read = skeleton(text)
    return [[s.start, s.end, s.entity_type] for s in DETECTOR._detect(read, Scanner(read))]


def _records() -> list[dict[str, object]]:
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


def test_detector_finds_the_recorded_spans_in_every_corpus_text() -> None:
    records = _records()
    assert len(records) > 500
    assert [r["text"] for r in records if found(str(r["text"])) != r["spans"]] == []


@contextmanager
def _library_checks() -> Iterator[None]:
    """The detector with phonenumbers' parse and stdnum's Luhn in place of its own."""
    with (
        patch.object(PhoneNumbers, "is_valid_international", lambda _, t: is_valid(t, None)),
        patch.object(PhoneNumbers, "is_valid_national", lambda _, t, r: is_valid(t, r)),
        patch.object(_validators, "luhn", luhn.is_valid),
    ):
        yield


_DIGITS = st.text("0123456789", min_size=1, max_size=4)
_RUN = st.lists(
    st.one_of(_DIGITS, st.sampled_from([" ", "-", ".", "/", " (0) ", "(0)", ") ", "("])),
    min_size=1,
    max_size=12,
).map("".join)
_NUMBER = st.builds(
    lambda head, run: head + run,
    st.sampled_from(["", "+", "00", "0"]).flatmap(
        lambda head: (
            st.sampled_from([f"{head}{c}" for c in COUNTRY_CODE_TO_REGION_CODE])
            if head in ("+", "00")
            else st.just(head)
        )
    ),
    _RUN,
)
_TEXT = st.lists(
    st.one_of(
        _NUMBER,
        st.sampled_from(
            ["4111 1111 1111 1111", "+1 202 555 0143", "+44 (0)20 7946 0958", "card", "tel."]
        ),
        st.text("ab xz,.:\n", max_size=6),
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_detector_finds_what_it_finds_with_the_libraries_checks(text: str) -> None:
    fast = found_by_python(text)
    with _library_checks():
        assert found_by_python(text) == fast


def _record() -> None:
    records = _records()
    with CORPUS.open("w", encoding="utf-8") as out:
        for record in records:
            spans = found(str(record["text"]))
            out.write(json.dumps({"text": record["text"], "spans": spans}, ensure_ascii=False))
            out.write("\n")


if __name__ == "__main__":
    _record()
