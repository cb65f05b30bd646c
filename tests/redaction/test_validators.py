"""The validators' own shortcuts give the libraries' answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from policy_engine.redaction._validators import luhn as _luhn


@given(st.text("0123456789", min_size=1, max_size=24))
def test_luhn_shortcut_agrees_with_stdnum(digits: str) -> None:
    assert _luhn(digits) == luhn.is_valid(digits)


@given(st.text("0123456789٣४", min_size=1, max_size=24))
def test_luhn_shortcut_rejects_non_ascii_digits_as_stdnum_does(digits: str) -> None:
    assert _luhn(digits) == luhn.is_valid(digits)


def test_luhn_shortcut_accepts_known_card_numbers() -> None:
    assert [_luhn(n) for n in ("4111111111111111", "378282246310005", "4111111111111112")] == [
        True,
        True,
        False,
    ]
