"""Reversible redaction: values become `<TYPE_N>` placeholders and come back in the answer.

One `RedactionSession` serves one client request: every attempt (each provider with
its own obligation types) redacts through it, so a value keeps its placeholder across
fields and attempts, and the answer of whichever provider replied is restored with it.
What it reads of a request is every string and number a codec can send (_request);
texts sent side by side are also read joined, so a value split over two of them is
found, and its placeholder goes where it starts.
"""

from __future__ import annotations

import asyncio
import json
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import pairwise

from adapters._model import ChatRequest, ChatResponse, TextPart
from policy_engine.redaction._cache import DetectionCache
from policy_engine.redaction._offload import DetectorFactory, Packed, ScanPool, unpack
from policy_engine.redaction._request import RequestWalk
from policy_engine.redaction._stream import StreamRestorer
from policy_engine.redaction._types import ENTITY_TYPES, Detector, Span

_PLACEHOLDER = re.compile("<(" + "|".join(sorted(ENTITY_TYPES)) + r")_([1-9]\d*)>")
# A request whose body has at least this many bytes is redacted off the event loop, so
# one large body cannot hold up every other request; below it, handing the work to a
# thread costs more than the scan (bench/redaction_isolation.py).
OFFLOAD_BYTES = 32 * 1024
# What redaction asks of a text: the spans to replace in it.
Scan = Callable[[str], list[Span]]


class Redactor:
    """Long-lived and shared: holds the detectors, the detection cache (spans by tenant
    and text hash, see _cache), the worker thread large requests are redacted on and
    the process they are scanned in; no per-request state. Detectors must be safe to
    call from a thread."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        cache_entries: int = 0,
        offload_bytes: int = OFFLOAD_BYTES,
        scan_processes: int = 1,
        detector_factory: DetectorFactory | None = None,
    ) -> None:
        """`cache_entries` > 0 keeps that many texts' spans across requests (see _cache);
        a request of `offload_bytes` or more is scanned in `scan_processes` processes
        (0: on the worker thread), which build their detectors with `detector_factory`,
        and redacted on the worker thread (see _offload)."""
        self.detectors = tuple(detectors)
        self.entity_types: frozenset[str] = frozenset().union(
            *(d.entity_types for d in self.detectors)
        )
        self.cache = DetectionCache(cache_entries) if cache_entries else None
        self.offload_bytes = offload_bytes
        # One thread: walking a request holds the GIL, so a second one would only take
        # turns with the first, and with the event loop.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="redaction")
        self.scans = ScanPool(self.detectors, scan_processes, self.executor, detector_factory)

    def uncovered(self, types: frozenset[str]) -> frozenset[str]:
        """Types no detector finds: a caller that must redact them should not send."""
        return types - self.entity_types

    def session(self, tenant: str = "") -> RedactionSession:
        """A session for one request of `tenant`, whose sightings alone feed its cache."""
        return RedactionSession(self, tenant)


class RedactionSession:
    def __init__(self, redactor: Redactor, tenant: str = "") -> None:
        self._redactor = redactor
        self._detectors = redactor.detectors
        self._cache = redactor.cache
        self._tenant = tenant
        self._placeholders: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._next: dict[str, int] = defaultdict(lambda: 1)
        # Placeholder-shaped strings already in the client's own text are never issued,
        # so restoring cannot turn the client's literal "<EMAIL_ADDRESS_1>" into a value.
        self._reserved: set[str] = set()
        # The request whose texts have all been reserved (on its first walk).
        self._walked: ChatRequest | None = None
        # Detection does not depend on the types asked for, so each attempt after the
        # first reuses it (and a conversation repeats most of its text every turn).
        self._detected: dict[tuple[int, str], list[Span]] = {}
        self._image_data: dict[str, bool] = {}
        # Requests `prepare` redacted ahead, by types, with the placeholders each holds.
        self._prepared: ChatRequest | None = None
        self._built: dict[frozenset[str], tuple[ChatRequest, frozenset[str]]] = {}
        # Placeholders in what was handed out to be sent; those of the walk under way.
        self._sent: set[str] = set()
        self._emitted: set[str] = set()

    @property
    def counts(self) -> dict[str, int]:
        """Distinct values redacted, by type, in what was handed out to be sent."""
        counts: dict[str, int] = defaultdict(int)
        for placeholder in self._sent:
            counts[placeholder[1 : placeholder.rindex("_")]] += 1
        return dict(counts)

    async def prepare(
        self, request: ChatRequest, types: Iterable[frozenset[str]], size: int
    ) -> None:
        """Redact a large request (`size`: its body's length in bytes, which bounds its
        text) ahead, off the event loop, for each of `types` (each candidate's): its
        texts are scanned in the scan process, the request walked on the worker
        thread, so no attempt scans or walks it on the loop. A small request is left
        to the attempts: handing it over would cost more than redacting it."""
        wanted = {t for t in types if t}
        if size < self._redactor.offload_bytes or not wanted or not self._detectors:
            return
        loop = asyncio.get_running_loop()
        detectors = self._wanted(frozenset().union(*wanted))
        thread = self._redactor.executor
        pending = await loop.run_in_executor(thread, self._pending, request, detectors)
        found = await self._redactor.scans.detect(pending) if pending else []
        await loop.run_in_executor(thread, self._build, request, wanted, pending, found)

    def redact_text(self, text: str, types: frozenset[str]) -> str:
        self._reserve(text)
        self._emitted = set()
        redacted = self._text(text, self._scanner(types))
        self._sent |= self._emitted
        return redacted

    def redact_request(self, request: ChatRequest, types: frozenset[str]) -> ChatRequest:
        """A new request with every outgoing string and number redacted; `request` is
        left untouched."""
        if not types or not self._detectors:
            return request
        built = self._built.get(types) if request is self._prepared else None
        redacted, placeholders = self._redact(request, types) if built is None else built
        self._sent |= placeholders
        return redacted

    def restore_text(self, text: str) -> str:
        if "<" not in text or not self._values:
            return text
        return _PLACEHOLDER.sub(self._lookup, text)

    def restore_json_text(self, text: str) -> str:
        """Restore inside JSON text: values are escaped so the JSON stays valid."""
        if "<" not in text or not self._values:
            return text
        return _PLACEHOLDER.sub(self._lookup_json, text)

    def restore_response(self, response: ChatResponse, json_content: bool = False) -> ChatResponse:
        """`json_content`: the answer text is JSON (response_format), so restored values
        are escaped as JSON strings, as in tool-call arguments."""
        restore = self.restore_json_text if json_content else self.restore_text
        return response.with_answer(
            content=[TextPart(restore(p.text)) for p in response.content],
            tool_calls=[
                replace(
                    c,
                    name=self.restore_text(c.name),
                    arguments=self.restore_json_text(c.arguments),
                )
                for c in response.tool_calls
            ],
        )

    def stream_restorer(self, json_content: bool = False) -> StreamRestorer:
        restore = self.restore_json_text if json_content else self.restore_text
        return StreamRestorer(frozenset(self._values), restore, self.restore_json_text)

    def _lookup(self, match: re.Match[str]) -> str:
        return self._values.get(match.group(0), match.group(0))

    def _lookup_json(self, match: re.Match[str]) -> str:
        value = self._values.get(match.group(0))
        if value is None:
            return match.group(0)
        return json.dumps(value, ensure_ascii=False)[1:-1]

    def _wanted(self, types: frozenset[str]) -> list[int]:
        return [i for i, d in enumerate(self._detectors) if not d.entity_types.isdisjoint(types)]

    def _reserve(self, text: str) -> None:
        if "<" in text:
            self._reserved.update(m.group(0) for m in _PLACEHOLDER.finditer(text))

    # -- on the worker thread (nothing else touches the session meanwhile) --------------

    def _pending(self, request: ChatRequest, detectors: list[int]) -> list[tuple[int, str]]:
        """The (detector, text) pairs to scan for `request`, less what the cache holds."""
        pending: list[tuple[int, str]] = []
        for text in self._texts_of(request):
            for index in detectors:
                key = (index, text)
                if key in self._detected:
                    continue
                cached = None if self._cache is None else self._cache.lookup(self._tenant, key)
                if cached is None:
                    pending.append(key)
                else:
                    self._detected[key] = cached
        return pending

    def _build(
        self,
        request: ChatRequest,
        type_sets: set[frozenset[str]],
        pending: list[tuple[int, str]],
        found: list[Packed],
    ) -> None:
        for key, packed in zip(pending, found, strict=True):
            spans = self._detected[key] = unpack(packed)
            if self._cache is not None:
                self._cache.store(self._tenant, key, spans)
        for types in type_sets:
            self._built[types] = self._redact(request, types)
        self._prepared = request

    def _texts_of(self, request: ChatRequest) -> list[str]:
        """Every text the walk scans, each reserved: the walk, with a scan that records."""
        found: dict[str, None] = {}

        def record(text: str) -> list[Span]:
            if text:
                found[text] = None
                self._reserve(text)
            return []

        self._walk(request, record)
        self._walked = request
        return list(found)

    # -- redacting a request -----------------------------------------------------------

    def _redact(
        self, request: ChatRequest, types: frozenset[str]
    ) -> tuple[ChatRequest, frozenset[str]]:
        """The redacted request and the placeholders in it."""
        self._emitted = set()
        if request is self._walked:
            return self._walk(request, self._scanner(types)), frozenset(self._emitted)
        # The first walk of a request reserves its texts as it goes. If one of them holds
        # a placeholder issued earlier in the walk, the walk's placeholders are taken
        # back and it runs again, now knowing every placeholder the client wrote.
        issued = set(self._values)
        scan = self._scanner(types)

        def reserve_and_scan(text: str) -> list[Span]:
            self._reserve(text)
            return scan(text)

        redacted = self._walk(request, reserve_and_scan)
        self._walked = request
        if self._reserved.isdisjoint(self._values):
            return redacted, frozenset(self._emitted)
        for placeholder in set(self._values) - issued:
            value = self._values.pop(placeholder)
            del self._placeholders[(placeholder[1 : placeholder.rindex("_")], value)]
        self._next.clear()
        self._emitted = set()
        return self._walk(request, scan), frozenset(self._emitted)

    def _walk(self, request: ChatRequest, scan: Scan) -> ChatRequest:
        walk = RequestWalk(
            lambda text: self._text(text, scan),
            lambda texts: self._run(texts, scan),
            self._image_data,
        )
        return walk.request(request)

    def _scanner(self, types: frozenset[str]) -> Scan:
        return lambda text: self._spans(text, types)

    def _spans(self, text: str, types: frozenset[str]) -> list[Span]:
        """The spans of the wanted types, in no order, overlaps and all (see _merged)."""
        found: list[Span] = []
        if not text:
            return found
        for index, detector in enumerate(self._detectors):
            if detector.entity_types.isdisjoint(types):
                continue
            key = (index, text)
            spans = self._detected.get(key)
            if spans is None:
                spans = self._detected[key] = (
                    detector.detect(text)
                    if self._cache is None
                    else self._cache.spans(self._tenant, key, detector.detect)
                )
            for span in spans:
                if span.entity_type in types:
                    found.append(span)
        return found

    # -- texts to placeholders --------------------------------------------------------

    def _text(self, text: str, scan: Scan) -> str:
        spans = scan(text)
        return self._apply(text, _merged(spans)) if spans else text

    def _run(self, texts: list[str], scan: Scan) -> list[str]:
        """Texts a provider reads one after the other, each redacted: read joined and
        one by one (joined, a value's end could run on into the next text)."""
        if len(texts) < 2:
            return [self._text(t, scan) for t in texts]
        joined = "".join(texts)
        spans = scan(joined)
        starts: list[int] = []
        at = 0
        for text in texts:
            starts.append(at)
            if text and len(text) < len(joined):
                spans.extend(Span(s.start + at, s.end + at, s.entity_type) for s in scan(text))
            at += len(text)
        if not spans:
            return list(texts)
        out: list[list[str]] = [[] for _ in texts]
        cursor = 0
        for span in _merged(spans):
            _spread(joined, starts, texts, cursor, span.start, out)
            value = joined[span.start : span.end]
            out[bisect_right(starts, span.start) - 1].append(
                self._placeholder(span.entity_type, value)
            )
            cursor = span.end
        _spread(joined, starts, texts, cursor, len(joined), out)
        return ["".join(pieces) for pieces in out]

    def _apply(self, text: str, spans: list[Span]) -> str:
        pieces: list[str] = []
        last = 0
        for span in spans:
            pieces.append(text[last : span.start])
            pieces.append(self._placeholder(span.entity_type, text[span.start : span.end]))
            last = span.end
        pieces.append(text[last:])
        return "".join(pieces)

    def _placeholder(self, entity_type: str, value: str) -> str:
        key = (entity_type, value)
        placeholder = self._placeholders.get(key)
        if placeholder is None:
            placeholder = self._issue(entity_type)
            self._placeholders[key] = placeholder
            self._values[placeholder] = value
        self._emitted.add(placeholder)
        return placeholder

    def _issue(self, entity_type: str) -> str:
        """The type's next placeholder that is neither the client's nor issued."""
        number = self._next[entity_type]
        placeholder = f"<{entity_type}_{number}>"
        while placeholder in self._reserved or placeholder in self._values:
            number += 1
            placeholder = f"<{entity_type}_{number}>"
        self._next[entity_type] = number + 1
        return placeholder


def _merged(spans: list[Span]) -> list[Span]:
    """Spans in order, overlapping ones joined into one: no character any detector
    found is left out. The joined span takes the type of its longest part."""
    for a, b in pairwise(spans):
        if b.start < a.end:
            break
    else:
        return spans  # in order and apart: one detector's spans in one text, the common case
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    merged = [spans[0]]
    longest = spans[0].end - spans[0].start
    for span in spans[1:]:
        last = merged[-1]
        if span.start >= last.end:
            merged.append(span)
            longest = span.end - span.start
            continue
        entity_type = last.entity_type
        if span.end - span.start > longest:
            entity_type, longest = span.entity_type, span.end - span.start
        merged[-1] = Span(last.start, max(last.end, span.end), entity_type)
    return merged


def _spread(
    joined: str, starts: list[int], texts: list[str], begin: int, end: int, out: list[list[str]]
) -> None:
    """Hand `joined[begin:end]` back to the texts it came from."""
    if begin >= end:
        return
    index = bisect_right(starts, begin) - 1
    while index < len(texts) and starts[index] < end:
        low, high = max(begin, starts[index]), min(end, starts[index] + len(texts[index]))
        if low < high:
            out[index].append(joined[low:high])
        index += 1
