"""The cross-request detection cache: same spans as detecting afresh, and no text kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.redaction import ENTITY_TYPES, PatternDetector, Redactor, Span
from policy_engine.redaction._cache import MIN_CACHED_CHARS, DetectionCache

EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
PHONE = "+44 20 7946 0958"
PROSE = "Please look into my order and tell me when it ships. " * 6
LONG = f"{PROSE} Reach me at {EMAIL} or {PHONE}; I paid with {CARD}."
DETECTOR = PatternDetector()


class CountingDetector:
    """PatternDetector, counting the texts it is asked to scan."""

    entity_types = DETECTOR.entity_types

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def detect(self, text: str) -> list[Span]:
        self.scanned.append(text)
        return DETECTOR.detect(text)


def never(text: str) -> list[Span]:
    raise AssertionError(f"scanned a text the cache holds ({len(text)} characters)")


def test_a_text_seen_in_an_earlier_request_is_not_scanned_again() -> None:
    counting = CountingDetector()
    redactor = Redactor([counting], cache_entries=16)
    first = redactor.session().redact_text(LONG, ENTITY_TYPES)
    second = redactor.session().redact_text(LONG, ENTITY_TYPES)
    assert first == second
    assert EMAIL not in second and CARD not in second and PHONE not in second
    assert counting.scanned == [LONG]


def test_a_one_character_change_is_scanned_afresh() -> None:
    counting = CountingDetector()
    redactor = Redactor([counting], cache_entries=16)
    redactor.session().redact_text(LONG, ENTITY_TYPES)
    changed = LONG.replace("order", "orders")
    assert EMAIL not in redactor.session().redact_text(changed, ENTITY_TYPES)
    assert counting.scanned == [LONG, changed]


def test_short_texts_are_scanned_each_time_and_not_stored() -> None:
    counting = CountingDetector()
    redactor = Redactor([counting], cache_entries=16)
    short = f"mail {EMAIL}"
    assert len(short) < MIN_CACHED_CHARS
    for _ in range(2):
        redactor.session().redact_text(short, ENTITY_TYPES)
    assert counting.scanned == [short, short]


def test_without_entries_every_request_scans() -> None:
    counting = CountingDetector()
    redactor = Redactor([counting])
    for _ in range(2):
        redactor.session().redact_text(LONG, ENTITY_TYPES)
    assert counting.scanned == [LONG, LONG]


def test_entries_hold_a_hash_and_spans_never_the_text() -> None:
    cache = DetectionCache(8)
    cache.spans(0, LONG, DETECTOR.detect)
    ((key, spans),) = cache._entries.items()
    assert key == (0, hash(LONG), len(LONG))
    assert [type(field) for span in spans for field in span] == [int, int, str] * len(spans)
    assert cache.spans(0, LONG, never) == DETECTOR.detect(LONG)
    held = repr(cache._entries)
    assert EMAIL not in held and CARD not in held and PHONE not in held


def test_the_least_recently_used_entry_goes_first() -> None:
    counting = CountingDetector()
    cache = DetectionCache(2)
    a, b, c = (f"{PROSE}{n}" for n in "abc")
    for text in (a, b, a, c):  # a is used again before c comes: b is the oldest
        cache.spans(0, text, counting.detect)
    assert len(cache) == 2
    for text in (a, c, b):
        cache.spans(0, text, counting.detect)
    assert counting.scanned == [a, b, c, b]


def test_each_detector_has_its_own_entry_for_a_text() -> None:
    cache = DetectionCache(8)
    cache.spans(0, LONG, lambda _: [Span(0, 1, "EMAIL_ADDRESS")])
    assert cache.spans(1, LONG, lambda _: []) == []


def test_an_equal_text_from_another_request_finds_the_entry() -> None:
    cache = DetectionCache(8)
    cache.spans(0, LONG, lambda _: [Span(0, 1, "EMAIL_ADDRESS")])
    assert cache.spans(0, "".join(list(LONG)), never) == [Span(0, 1, "EMAIL_ADDRESS")]


def test_a_cache_without_room_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        DetectionCache(0)


_VALUES = st.sampled_from([EMAIL, CARD, PHONE, "4111 1111 1111 1112", "order 88231", "x"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=60), _VALUES), min_size=1, max_size=12))
def test_cached_redaction_equals_uncached_redaction(pieces: list[tuple[str, str]]) -> None:
    text = PROSE + " ".join(f"{prose} {value}" for prose, value in pieces)
    cached = Redactor([PatternDetector()], cache_entries=4)
    uncached = Redactor([PatternDetector()])
    expected = uncached.session().redact_text(text, ENTITY_TYPES)
    assert cached.session().redact_text(text, ENTITY_TYPES) == expected  # a miss
    assert cached.session().redact_text(text, ENTITY_TYPES) == expected  # a hit
