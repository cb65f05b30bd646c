"""The scan's shortcuts: a text the prefilter dismisses holds no gate hit, so no value;
scanning for hints finds the gate hits a gate scan finds; and the boundaries it skips
inside a token are boundaries where no match can start."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.redaction._grammar import GATE_LITERALS
from policy_engine.redaction._scanner import (
    COMPILED,
    GATE,
    HINT,
    HINT_OFFSET,
    LONGEST_GATE_LITERAL,
    may_start,
    next_gate,
)
from policy_engine.redaction._skeleton import skeleton


def test_every_gate_literal_passes_the_prefilter() -> None:
    assert [literal for literal in GATE_LITERALS if HINT.search(literal) is None] == []


# Prose around pieces of the gate literals, so near misses ("sk", "ey", "Bear") are common.
_PIECES = st.sampled_from(
    [literal[i:j] for literal in GATE_LITERALS for i in range(len(literal)) for j in (i + 1, None)]
)
_TEXT = st.lists(_PIECES | st.text(max_size=6), max_size=12).map("".join)


@given(_TEXT)
def test_a_text_the_prefilter_dismisses_has_no_gate_hit(text: str) -> None:
    if HINT.search(text) is None:
        assert GATE.search(text) is None


def test_every_gate_literal_holds_a_hint_within_the_offset() -> None:
    offsets = {literal: HINT.search(literal) for literal in GATE_LITERALS}
    assert [k for k, hint in offsets.items() if hint is None or hint.start() > HINT_OFFSET] == []
    assert max(map(len, GATE_LITERALS)) == LONGEST_GATE_LITERAL


@settings(max_examples=500)
@given(_TEXT, st.integers(min_value=0, max_value=80))
def test_gate_hit_found_through_hints_is_the_gate_scans_hit(text: str, pos: int) -> None:
    expected = GATE.search(text, pos)
    found = next_gate(text, pos)
    assert (found and (found.span(), found.group())) == (
        expected and (expected.span(), expected.group())
    )


_VALUE_TEXT = st.lists(
    st.sampled_from(
        [
            *GATE_LITERALS,
            *"0123456789-+%(:@._/ x",
            "%2B",
            "-----BEGIN PRIVATE KEY-----\nQUJDREVGR0hJSktMTU5PUA",
            "Private-Lines: 1\nQUJD",
            "4111 1111 1111 1111",
            "jane@example.com",
            "AB 12 34 56 C",
            "2001:db8::1",
            "password=hunter2",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=500)
@given(_VALUE_TEXT)
def test_a_match_starts_after_a_word_character_only_where_the_scan_tries_one(text: str) -> None:
    # The scan skips the other boundaries (see _scanner.may_start).
    read = skeleton(text)
    for position in range(1, len(read)):
        if COMPILED.match(read, position) is not None:
            assert may_start(read, position), (read, position)
