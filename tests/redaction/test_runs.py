"""Digit runs: the facts the run grammar and the splitting rest on, and what a split finds."""

from __future__ import annotations

import re
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.redaction import PatternDetector, _numbers
from policy_engine.redaction._grammar import STEP
from policy_engine.redaction._numbers import ALONE, COVERING, EMBEDDED, GLUED, NumberClassifier
from policy_engine.redaction._runs import MAX_GROUPS, Run
from policy_engine.redaction._scanner import COMPILED
from policy_engine.redaction._validators import run_digits

CLASSIFIER = NumberClassifier()
DETECTOR = PatternDetector()
STEP_ALTERNATIVES = [re.compile(a) for a in (r"\d", r"[ .\-/]\d", r"[ .\-]?\(\d{1,5}\)[ .\-]?\d")]

# Digits, every separator and the characters they are made of.
_RUN_TEXT = st.lists(
    st.sampled_from([*"0123456789 .-/()+x", "(0)", " (0) ", "(415) ", ") ", ")-", "555", "12"]),
    max_size=24,
).map("".join)
_CONTEXT = st.sampled_from(["", "card ", "Aadhaar ", "version ", "tel. ", "SSN: "])


def _runs(text: str) -> list[str]:
    return [m.group() for m in COMPILED.finditer(text) if m.lastgroup == "number"]


@given(_RUN_TEXT)
def test_at_most_one_alternative_of_a_run_step_matches_anywhere(text: str) -> None:
    # What lets the run pattern be possessive without changing what it matches.
    for position in range(len(text)):
        assert sum(bool(a.match(text, position)) for a in STEP_ALTERNATIVES) <= 1
    assert re.fullmatch(STEP, "(415) 5") is not None


@given(_RUN_TEXT)
def test_groups_of_a_run_are_its_space_separated_groups(text: str) -> None:
    for run in _runs(text):
        read = Run(CLASSIFIER, run, "", glued=False)
        plain = [(m.start(), m.end()) for m in re.finditer(r"\S+", run)]
        assert list(zip(read.starts, read.ends, strict=True)) == plain
        assert read.digits[-1] == sum(map(str.isdigit, run))


@given(_RUN_TEXT, st.integers(0, 40), st.integers(0, 40))
def test_digits_of_a_run_or_a_part_of_it_are_its_digit_characters(
    text: str, begin: int, end: int
) -> None:
    for run in _runs(text):
        part = run[begin:end]
        assert run_digits(part) == "".join(filter(str.isdigit, part))


_SHORT = st.text("0123456789.-/ ()+", max_size=14).filter(
    lambda s: sum(map(str.isdigit, s)) < 6 and s.count(".") < 3
)


@given(_SHORT, _CONTEXT, st.sampled_from([ALONE, EMBEDDED, GLUED]))
def test_fewer_than_six_digits_without_a_dotted_quad_are_never_a_value(
    candidate: str, preceding: str, mode: int
) -> None:
    assert CLASSIFIER.classify(candidate, preceding, mode) is None


_CANDIDATE = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["", "", "+", "00", "0", "(", "+44 ", "+1 ", "%2B"]),
    st.text("0123456789 .-/()", min_size=1, max_size=22),
)


@settings(max_examples=300, deadline=None)
@given(_CANDIDATE, _CONTEXT)
def test_a_sequence_rejected_alone_is_rejected_embedded_and_glued(
    candidate: str, preceding: str
) -> None:
    if CLASSIFIER.classify(candidate, preceding, ALONE) is None:
        assert CLASSIFIER.classify(candidate, preceding, EMBEDDED) is None
        assert CLASSIFIER.classify(candidate, preceding, GLUED) is None


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.entity_type) for s in DETECTOR.detect(text)]


@pytest.mark.parametrize(
    "row",
    [
        "81 35007 127 4 506995 5 6 2",
        "7 506995 5 6 2 392 2 7 35555",
        "2909 10371 1 3145 3 976154 92 94",
        "612 345 678 91 23 4567 8 9 10",
        "48213 99812 10023 77215 30411 2230 918 44",
    ],
)
def test_a_row_of_a_number_table_is_not_taken_for_phone_numbers(row: str) -> None:
    assert found(f"data:\n{row}\n") == []


def test_a_table_of_four_digit_numbers_is_not_taken_for_cards() -> None:
    # Any four adjacent cells pass as a card's printed grouping, and one in about 25 has
    # Luhn and an issuer's prefix: only a row that two cards cover whole still counts
    # (as two cards written one after the other would).
    rows = [
        "\t".join(f"{(row * 7919 + cell * 104729) % 10000:04d}" for cell in range(8))
        for row in range(300)
    ]
    spans = DETECTOR.detect("\n".join(rows))
    assert len(spans) <= len(rows) // 50


@pytest.mark.parametrize(
    ("text", "cards"),
    [
        ("card 4111 1111 1111 1111 2029 cvc", ["4111 1111 1111 1111"]),
        ("4111 1111 1111 1111 4242 4242 4242 4242", ["4111 1111 1111 1111", "4242 4242 4242 4242"]),
        ("pay 4242\t4242\t4242\t4242 now", ["4242\t4242\t4242\t4242"]),
        ("ref 4813 5877 3738 5936 ok", []),
        ("ref 5018 5877 3738 5937 ok", []),
    ],
)
def test_a_card_beside_other_groups_of_four_is_still_found(text: str, cards: list[str]) -> None:
    assert [value for value, _ in found(text)] == cards


def test_values_written_one_after_another_in_a_long_run_are_all_found() -> None:
    values = ["+44 20 7946 0958", "030 12345678", "(415) 555-0132", "4111 1111 1111 1111"]
    text = " ".join(values * 3)
    assert found(text) == [(v, t) for v in values * 3 for t in [_type(v)]]


def _type(value: str) -> str:
    return "CREDIT_CARD" if value.startswith("4111") else "PHONE_NUMBER"


def test_a_bare_phone_number_is_found_in_a_row_beside_a_row_number() -> None:
    assert found("12 4155550132\n13 6505550199\n") == [
        ("4155550132", "PHONE_NUMBER"),
        ("6505550199", "PHONE_NUMBER"),
    ]


def test_a_glued_order_number_is_not_a_phone_number() -> None:
    assert found("order ORD-2024-118734 and INV-000123456 shipped") == []


def test_digits_inside_a_hex_digest_are_not_values() -> None:
    assert found("sha 9f86d0818845c7d6592a4feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") == []


class _Counting(NumberClassifier):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def classify(self, candidate: str, preceding: str, mode: int = ALONE) -> str | None:
        self.calls += 1
        return super().classify(candidate, preceding, mode)


@pytest.mark.parametrize(
    "unit", ["1 ", "12 ", "123 ", "0612 ", "4111 1111 1111 1111 ", "030 12345678 ", "1-"]
)
def test_a_long_run_is_judged_at_most_once_per_group_and_sequence_size(unit: str) -> None:
    for repeats in (50, 400):
        counting = _Counting()
        run = (unit * repeats).strip()
        Run(counting, run, "", glued=False).values()
        groups = run.count(" ") + 1
        assert counting.calls <= MAX_GROUPS * groups


_CUT = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["", "", "", "1 ", "0", "(", "+", "00", "%2B"]),
    st.lists(st.text("0123456789", min_size=1, max_size=6), min_size=1, max_size=8).flatmap(
        lambda groups: st.lists(
            st.sampled_from([" ", " ", "-", ".", "/", ") ", "("]),
            min_size=len(groups) - 1,
            max_size=len(groups) - 1,
        ).map(
            lambda seps: groups[0] + "".join(s + g for s, g in zip(seps, groups[1:], strict=True))
        )
    ),
)


@settings(max_examples=500, deadline=None)
@given(_CUT, _CONTEXT, st.sampled_from([EMBEDDED, COVERING]))
def test_the_shape_filter_only_rejects_what_the_checks_would_reject(
    candidate: str, preceding: str, mode: int
) -> None:
    # The filter is a shortcut: without it, classify gives the same answer.
    with_filter = CLASSIFIER.classify(candidate, preceding, mode)
    with patch.object(_numbers, "may_stand_cut", lambda candidate, mode: True):
        assert CLASSIFIER.classify(candidate, preceding, mode) == with_filter
