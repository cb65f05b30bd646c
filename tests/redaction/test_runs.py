"""The facts the digit-run shortcuts rest on, checked against the plain forms they replace."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.redaction._patterns import _NUMBER, _groups
from policy_engine.redaction._validators import NumberClassifier, run_digits

# The number pattern as first written, separators in their natural order.
PLAIN_NUMBER = re.compile(
    r"(?P<number>(?<![\w.+/#@:(-])\+?\(?\d(?:(?:[ .\-/]|\) ?| ?\(0\) ?|\)[ .-])?\d){3,63}+)"
)
NUMBER = re.compile(_NUMBER)
CLASSIFIER = NumberClassifier()

# Digits (one of them not ASCII), every separator and the characters they are made of.
_RUN_TEXT = st.lists(
    st.sampled_from([*"0123456789٣ .-/()+x", "(0)", " (0) ", ") ", ")-", ").", "555", "12"]),
    max_size=24,
).map("".join)
_CONTEXT = st.sampled_from(["", "card ", "Aadhaar ", "version ", "tel. "])


def _runs(text: str) -> list[str]:
    return [m.group() for m in NUMBER.finditer(text)]


@settings(max_examples=500)
@given(_RUN_TEXT)
def test_number_pattern_with_reordered_separators_finds_the_same_runs(text: str) -> None:
    assert [m.span() for m in NUMBER.finditer(text)] == [
        m.span() for m in PLAIN_NUMBER.finditer(text)
    ]


@given(_RUN_TEXT)
def test_groups_of_a_run_are_its_space_separated_digit_groups(text: str) -> None:
    for run in _runs(text):
        plain = []
        total = 0
        for match in re.finditer(r"\S+", run):
            total += sum(map(str.isdigit, match.group()))
            plain.append((match.start(), match.end(), total))
        assert _groups(run) == plain


@given(_RUN_TEXT)
def test_groups_of_a_run_are_separated_by_single_spaces(text: str) -> None:
    # What lets the first try count groups and digits without cutting the run.
    for run in _runs(text):
        assert (len(_groups(run)), _groups(run)[-1][1]) == (run.count(" ") + 1, len(run))


@given(_RUN_TEXT, st.integers(0, 40), st.integers(0, 40))
def test_digits_of_a_run_or_a_part_of_it_are_its_digit_characters(
    text: str, begin: int, end: int
) -> None:
    for run in _runs(text):
        part = run[begin:end]
        assert run_digits(part) == "".join(filter(str.isdigit, part))


_SHORT = st.text("0123456789٣.-/ ()+", max_size=14).filter(
    lambda s: sum(map(str.isdigit, s)) < 6 and s.count(".") < 3
)


@given(_SHORT, _CONTEXT)
def test_fewer_than_six_digits_without_a_dotted_quad_are_never_a_value(
    candidate: str, preceding: str
) -> None:
    assert CLASSIFIER.classify(candidate, preceding) is None
    assert CLASSIFIER.classify(candidate, preceding, whole=False) is None


_CANDIDATE = st.builds(
    lambda head, body: head + body,
    st.sampled_from(["", "", "+", "00", "0", "(", "+44 ", "+1 "]),
    st.text("0123456789 .-/()", min_size=1, max_size=22),
)


@settings(max_examples=300, deadline=None)
@given(_CANDIDATE, _CONTEXT)
def test_sequence_rejected_as_a_whole_value_is_rejected_as_a_part(
    candidate: str, preceding: str
) -> None:
    if CLASSIFIER.classify(candidate, preceding) is None:
        assert CLASSIFIER.classify(candidate, preceding, whole=False) is None
