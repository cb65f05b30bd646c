"""The pattern detector's prefilter: a text it dismisses holds no gate hit, so no value."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policy_engine.redaction._patterns import _GATE, _HINT

_GATE_LITERALS = _GATE.pattern.split("|")


def test_every_gate_literal_passes_the_prefilter() -> None:
    assert [literal for literal in _GATE_LITERALS if _HINT.search(literal) is None] == []


# Prose around pieces of the gate literals, so near misses ("sk", "ey", "Bear") are common.
_PIECES = st.sampled_from(
    [literal[i:j] for literal in _GATE_LITERALS for i in range(len(literal)) for j in (i + 1, None)]
)
_TEXT = st.lists(_PIECES | st.text(max_size=6), max_size=12).map("".join)


@given(_TEXT)
def test_a_text_the_prefilter_dismisses_has_no_gate_hit(text: str) -> None:
    if _HINT.search(text) is None:
        assert _GATE.search(text) is None
