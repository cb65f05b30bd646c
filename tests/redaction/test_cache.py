"""The cross-request detection cache: same spans as detecting afresh, no text kept, and
a text stored on its second sighting only."""

from __future__ import annotations

from collections.abc import Callable

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
TENANT = "acme"


class CountingDetector:
    """PatternDetector, counting the texts it is asked to scan."""

    entity_types = DETECTOR.entity_types

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def detect(self, text: str) -> list[Span]:
        self.scanned.append(text)
        return DETECTOR.detect(text)


Detect = Callable[[str], list[Span]]


def never(text: str) -> list[Span]:
    raise AssertionError(f"scanned a text the cache holds ({len(text)} characters)")


def seen_twice(
    cache: DetectionCache, text: str, detect: Detect = DETECTOR.detect, tenant: str = TENANT
) -> None:
    for _ in range(2):
        cache.spans(tenant, (0, text), detect)


def test_a_text_seen_in_two_earlier_requests_is_not_scanned_again() -> None:
    counting = CountingDetector()
    redactor = Redactor([counting], cache_entries=16)
    first, second, third = (redactor.session().redact_text(LONG, ENTITY_TYPES) for _ in "123")
    assert first == second == third
    assert EMAIL not in third and CARD not in third and PHONE not in third
    assert counting.scanned == [LONG, LONG]


def test_a_text_seen_once_is_not_stored_and_pushes_nothing_out() -> None:
    cache = DetectionCache(2)
    seen_twice(cache, LONG)
    for n in range(10):
        cache.spans(TENANT, (0, f"{PROSE}{n}"), DETECTOR.detect)
    assert len(cache) == 1
    assert cache.spans(TENANT, (0, LONG), never) == DETECTOR.detect(LONG)


def test_the_texts_seen_once_are_forgotten_when_as_many_as_the_entries() -> None:
    counting = CountingDetector()
    cache = DetectionCache(2)
    a, b, c = (f"{PROSE}{n}" for n in "abc")
    for text in (a, b, c, a):  # c came when two were remembered: a was forgotten
        cache.spans(TENANT, (0, text), counting.detect)
    assert len(cache) == 0
    cache.spans(TENANT, (0, a), counting.detect)  # a second sighting since the clearing
    assert len(cache) == 1


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
    seen_twice(cache, LONG)
    assert cache._seen_once == set()
    ((key, spans),) = cache._entries.items()
    assert key == (TENANT, 0, hash(LONG), len(LONG))
    assert [type(field) for span in spans for field in span] == [int, int, str] * len(spans)
    assert cache.spans(TENANT, (0, LONG), never) == DETECTOR.detect(LONG)
    held = repr(cache._entries)
    assert EMAIL not in held and CARD not in held and PHONE not in held


def test_the_least_recently_used_entry_goes_first() -> None:
    counting = CountingDetector()
    cache = DetectionCache(2)
    a, b, c = (f"{PROSE}{n}" for n in "abc")
    for text in (a, b, a, c):  # a is used again before c comes: b is the oldest
        seen_twice(cache, text, counting.detect)
    assert len(cache) == 2
    for text in (a, c, b):
        cache.spans(TENANT, (0, text), counting.detect)
    assert counting.scanned == [a, a, b, b, c, c, b]


def test_each_detector_has_its_own_entry_for_a_text() -> None:
    cache = DetectionCache(8)
    seen_twice(cache, LONG, lambda _: [Span(0, 1, "EMAIL_ADDRESS")])
    assert cache.spans(TENANT, (1, LONG), lambda _: []) == []


def test_an_equal_text_from_another_request_finds_the_entry() -> None:
    cache = DetectionCache(8)
    seen_twice(cache, LONG, lambda _: [Span(0, 1, "EMAIL_ADDRESS")])
    assert cache.spans(TENANT, (0, "".join(list(LONG))), never) == [Span(0, 1, "EMAIL_ADDRESS")]


def test_another_tenants_sightings_do_not_make_a_text_cached_for_this_one() -> None:
    counting = CountingDetector()
    redactor = Redactor([counting], cache_entries=16)
    for _ in range(3):
        redactor.session("acme").redact_text(LONG, ENTITY_TYPES)
    assert counting.scanned == [LONG, LONG]  # stored for acme, found on its third send
    redactor.session("globex").redact_text(LONG, ENTITY_TYPES)
    assert counting.scanned == [LONG, LONG, LONG]


def test_another_tenants_sighting_is_not_this_ones_first() -> None:
    cache = DetectionCache(8)
    cache.spans("acme", (0, LONG), DETECTOR.detect)
    cache.spans("globex", (0, LONG), DETECTOR.detect)
    assert len(cache) == 0  # each tenant has seen it once


def test_a_tenant_finds_its_own_entry_beside_another_tenants() -> None:
    cache = DetectionCache(8)
    for tenant in ("acme", "globex"):
        seen_twice(cache, LONG, tenant=tenant)
    assert len(cache) == 2
    assert cache.lookup("acme", (0, LONG)) == DETECTOR.detect(LONG)


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
    assert cached.session().redact_text(text, ENTITY_TYPES) == expected  # stored
    assert cached.session().redact_text(text, ENTITY_TYPES) == expected  # a hit
