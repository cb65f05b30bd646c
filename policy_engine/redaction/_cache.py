"""Detection results across requests, keyed by the text's hash, never the text itself.

Chat clients send the whole conversation on every turn and the same system prompt with
every request, so without this, turn n detects again the n-1 messages before it. Each
detector's spans for a text depend on nothing but the text (the detectors are built
once, from the configuration), so they can be reused.

`functools.lru_cache` would keep every text as its key, which is raw PII held for as
long as the entry lives: here the key is the text's `hash()` and length, and an entry
holds offsets and type names only. str's hash is SipHash-1-3 under a key drawn at
interpreter start (PYTHONHASHSEED) and is computed once per string, which the session's
own lookups do anyway. Two texts of one length sharing a 64-bit hash would share spans:
with 4,096 entries held, about one chance in 2**52 per new text, and making a text collide
with someone else's needs the hash key (random unless PYTHONHASHSEED is set).

A text's spans are stored the second time it is seen, not the first: a text sent once
(most single prompts) would only push out one that comes back (a system prompt, a
conversation's history), and storing it cost 9-10 µs of CPU per request in the
pipeline (in-process, 16 clients, every prompt new), against nothing for a lookup. Like
TinyLFU's doorkeeper, the texts seen once are remembered by key alone, and forgotten all
at once when as many as the entries are held. A conversation re-sent every turn then
detects each message twice rather than once, and still half of what it would without
the cache (bench/PERF_NOTES.md, "Seventh round").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from policy_engine.redaction._types import Span

# Below this many characters, detecting costs about what a lookup does.
MIN_CACHED_CHARS = 256


class DetectionCache:
    """At most `max_entries` texts' spans per detector, least recently used dropped first;
    a text's spans are stored on its second sighting."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a detection cache needs room for at least one entry")
        self._max = max_entries
        # Plain tuples of ints and strs, which the collector stops tracking: thousands of
        # Span objects would sit in the oldest generation for every full collection.
        self._entries: OrderedDict[tuple[int, int, int], tuple[tuple[int, int, str], ...]] = (
            OrderedDict()
        )
        # Keys of the texts seen once since the last clearing (no spans, no text).
        self._seen_once: set[tuple[int, int, int]] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def spans(self, detector: int, text: str, detect: Callable[[str], list[Span]]) -> list[Span]:
        """`detect(text)`, or what it returned for an equal text before."""
        if len(text) < MIN_CACHED_CHARS:
            return detect(text)
        key = (detector, hash(text), len(text))
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
            return [Span(*span) for span in found]
        spans = detect(text)
        if key not in self._seen_once:
            if len(self._seen_once) >= self._max:
                self._seen_once.clear()
            self._seen_once.add(key)
            return spans
        self._seen_once.discard(key)
        self._entries[key] = tuple((s.start, s.end, s.entity_type) for s in spans)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return spans
