"""Detection results across requests, keyed by tenant and the text's hash, never the text.

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

Entries are kept per tenant: a text another tenant sent is scanned again, so how fast a
text is redacted tells a tenant nothing about what others sent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from policy_engine.redaction._types import Span

# Below this many characters, detecting costs about what a lookup does.
MIN_CACHED_CHARS = 256


# (tenant, detector index, hash of the text, its length)
_Key = tuple[str, int, int, int]


class DetectionCache:
    """At most `max_entries` texts' spans per detector, least recently used dropped first;
    a text's spans are stored on its second sighting by the same tenant. Shared by the
    event loop and the worker thread large requests are redacted on."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a detection cache needs room for at least one entry")
        self._max = max_entries
        # Plain tuples of ints and strs, which the collector stops tracking: thousands of
        # Span objects would sit in the oldest generation for every full collection.
        self._entries: OrderedDict[_Key, tuple[tuple[int, int, str], ...]] = OrderedDict()
        # Keys of the texts seen once since the last clearing (no spans, no text).
        self._seen_once: set[_Key] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def spans(
        self, tenant: str, key: tuple[int, str], detect: Callable[[str], list[Span]]
    ) -> list[Span]:
        """`detect(text)` for `key` (detector index, text), or what it returned for an
        equal text this tenant sent before."""
        found = self.lookup(tenant, key)
        if found is None:
            found = detect(key[1])
            self.store(tenant, key, found)
        return found

    def lookup(self, tenant: str, key: tuple[int, str]) -> list[Span] | None:
        """The stored spans, or None: a short text's are never stored."""
        index, text = key
        if len(text) < MIN_CACHED_CHARS:
            return None
        entry = (tenant, index, hash(text), len(text))
        with self._lock:
            found = self._entries.get(entry)
            if found is None:
                return None
            self._entries.move_to_end(entry)
        return [Span(*span) for span in found]

    def store(self, tenant: str, key: tuple[int, str], spans: list[Span]) -> None:
        """A sighting of a text `lookup` did not find: its spans are kept if it is the
        second."""
        index, text = key
        if len(text) < MIN_CACHED_CHARS:
            return
        entry = (tenant, index, hash(text), len(text))
        with self._lock:
            if entry not in self._seen_once:
                if len(self._seen_once) >= self._max:
                    self._seen_once.clear()
                self._seen_once.add(entry)
                return
            self._seen_once.discard(entry)
            self._entries[entry] = tuple((s.start, s.end, s.entity_type) for s in spans)
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
