"""Canonical JSON: the orjson fast path writes exactly what RFC 8785 (rfc8785) writes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from policy_engine.audit import AuditLog, AuditSettings, load_public_key, verify_log
from policy_engine.audit._record import _orjson_is_canonical, canonical_json

# Characters where JSON writers tend to disagree: every control character, the
# characters RFC 8785 escapes by name, "/", DEL, the JavaScript line separators,
# non-ASCII in each UTF-8 length, and a byte-order mark.
_AWKWARD = "".join(map(chr, range(0x20))) + '"\\/\x7f\x80\u00e9\u2028\u2029\ufeff\uffff\U0001f600'
_TEXT = st.text(alphabet=st.sampled_from(_AWKWARD) | st.characters(), max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.integers(min_value=-(2**53) - 2, max_value=2**53 + 2)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT
)
_KEYS = st.text(alphabet=st.sampled_from(_AWKWARD) | st.characters(max_codepoint=0x7F), max_size=8)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)
_EVENTS = st.dictionaries(_KEYS, _VALUES, max_size=6)


def _rfc8785_or_error(value: Any) -> bytes | type[Exception]:
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


@hypothesis_settings(max_examples=400, deadline=None)
@given(_EVENTS)
def test_the_fast_path_is_taken_only_where_orjson_matches_rfc8785(event: dict[str, Any]) -> None:
    if _orjson_is_canonical(event):
        try:
            fast = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            return  # canonical_json falls back to rfc8785 here (lone surrogates)
        assert fast == rfc8785.dumps(event)


@hypothesis_settings(max_examples=400, deadline=None)
@given(_EVENTS)
def test_canonical_json_equals_rfc8785_or_raises_as_it_does(event: dict[str, Any]) -> None:
    expected = _rfc8785_or_error(event)
    if isinstance(expected, bytes):
        assert canonical_json(event) == expected
    else:
        with pytest.raises(expected):
            canonical_json(event)


@pytest.mark.parametrize(
    "value",
    [
        {"whole": 1.0},
        {"small": 1e-6},
        {"large": 1e20},
        {"zero": -0.0},
        {"nan": float("nan")},
        {"big": 2**53},
        {"below": -(2**53)},
        {"\u00e9": 1},
        {"t": (1, 2)},
        {"nested": [{"x": 2.0}]},
    ],
    ids=[
        "integral-float",
        "float-below-1e-6",
        "float-from-1e16",
        "negative-zero",
        "nan",
        "int-above-2**53-1",
        "int-below",
        "non-ascii-key",
        "tuple",
        "nested-integral-float",
    ],
)
def test_values_orjson_may_write_differently_take_the_slow_path(value: dict[str, Any]) -> None:
    assert not _orjson_is_canonical(value)


def test_a_typical_event_takes_the_fast_path() -> None:
    event = {
        "request_id": "r-1",
        "attempts": [{"provider": "p", "outcome": "ok", "status": 200, "latency_ms": 12.345}],
        "redactions": {"EMAIL": 1},
        "usage": None,
        "unredactable": [],
        "context": {"privacy_tags": ["pii"], "stream": False},
    }
    assert _orjson_is_canonical(event)


_FAST_EVENTS = [
    {"request_id": "r-0", "note": 'tab\t nul\x00 us\x1f del\x7f slash/ quote" back\\'},
    {"request_id": "r-1", "note": "caf\u00e9 \u2028\u2029 \ufeff \U0001f600", "n": 2**53 - 1},
    {"request_id": "r-2", "nested": [{"b": [True, False, None]}, [], {}], "n": -(2**53 - 1)},
]


async def test_a_log_written_by_the_fast_path_verifies(settings: AuditSettings) -> None:
    assert all(_orjson_is_canonical(event) for event in _FAST_EVENTS)
    log = await AuditLog.open(settings)
    for event in _FAST_EVENTS:
        await log.append(event)
    await log.close()
    public = load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))
    assert verify_log(settings.dir, [public]).records == len(_FAST_EVENTS)
