"""Reversible redaction: values become `<TYPE_N>` placeholders and come back in the answer.

One `RedactionSession` serves one client request: every attempt (each provider with
its own obligation types) redacts through it, so a value keeps its placeholder across
fields and attempts, and the answer of whichever provider replied is restored with it.

Every string and number of the request that a provider codec can send is read: texts,
names, ids, URLs, tool names, schemas and arguments (parsed and written again, so what
leaves is what was read). Texts that an adapter puts side by side (the parts of a
message, consecutive turns of one role, the system prompts) are also read joined, so a
value split over two of them is found; its placeholder goes where it starts.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from adapters._model import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    TextPart,
    Tool,
    ToolCall,
)
from policy_engine.redaction._cache import DetectionCache
from policy_engine.redaction._stream import StreamRestorer
from policy_engine.redaction._types import ENTITY_TYPES, Detector, Span

_PLACEHOLDER = re.compile("<(" + "|".join(sorted(ENTITY_TYPES)) + r")_([1-9]\d*)>")
# A request with at least this many characters to scan is scanned off the event loop,
# so one large body cannot hold up every other request; below it, handing the work to
# a thread costs more than the scan.
OFFLOAD_CHARS = 32_768
# Base64 image data is sent as it came when it is what it says: the image's bytes are no
# text a detector can read. Anything else in a `data:` URL is read as text.
_IMAGE_DATA = re.compile(r"data:image/(png|jpeg|gif|webp);base64,")
# Each kind's file signature: a RIFF file is a WebP image when bytes 8-11 say so.
_SIGNATURES = {
    "png": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "jpeg": re.compile(rb"\xff\xd8\xff"),
    "gif": re.compile(rb"GIF8[79]a"),
    "webp": re.compile(rb"RIFF....WEBP", re.DOTALL),
}
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_TOOL_CHOICES = frozenset({"auto", "none", "required"})

# What redaction asks of a text: the spans to replace in it.
Scan = Callable[[str], list[Span]]


class Redactor:
    """Long-lived and shared: holds the detectors, the detection cache (spans by tenant
    and text hash, see _cache) and the worker thread large requests are scanned on;
    no per-request state. Detectors must be safe to call from that thread."""

    def __init__(
        self,
        detectors: Sequence[Detector],
        cache_entries: int = 0,
        offload_chars: int = OFFLOAD_CHARS,
    ) -> None:
        """`cache_entries` > 0 keeps that many texts' spans across requests (see _cache)."""
        self.detectors = tuple(detectors)
        self.entity_types: frozenset[str] = frozenset().union(
            *(d.entity_types for d in self.detectors)
        )
        self.cache = DetectionCache(cache_entries) if cache_entries else None
        self.offload_chars = offload_chars
        # One worker: detection holds the GIL for most of its run, so a second one would
        # only take turns with the first, and with the event loop.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="redaction")

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
        # Detection does not depend on the types asked for, so each attempt after the
        # first reuses it (and a conversation repeats most of its text every turn).
        self._detected: dict[tuple[int, str], list[Span]] = {}
        # The texts a request is scanned as, read once per request.
        self._walked: ChatRequest | None = None
        self._texts: list[str] = []
        self._image_data: dict[str, bool] = {}

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for entity_type, _ in self._placeholders:
            counts[entity_type] += 1
        return dict(counts)

    async def prepare(self, request: ChatRequest, types: Iterable[frozenset[str]]) -> None:
        """Scan a large request off the event loop for every attempt to come (`types`:
        each candidate's), so `redact_request` only reuses the spans; a small request
        is left to `redact_request`."""
        wanted = self._wanted(frozenset().union(*types))
        if not wanted:
            return
        texts = self._texts_of(request)
        if sum(map(len, texts)) < self._redactor.offload_chars:
            return
        pending: list[tuple[int, str]] = []
        for text in texts:
            for index in wanted:
                key = (index, text)
                if key in self._detected:
                    continue
                cached = None if self._cache is None else self._cache.lookup(self._tenant, key)
                if cached is None:
                    pending.append(key)
                else:
                    self._detected[key] = cached
        if not pending:
            return
        # The cache is only ever touched here, on the loop; the worker only detects.
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(
            self._redactor.executor, _detect_each, self._detectors, pending
        )
        for key, spans in zip(pending, found, strict=True):
            self._detected[key] = spans
            if self._cache is not None:
                self._cache.store(self._tenant, key, spans)

    def redact_text(self, text: str, types: frozenset[str]) -> str:
        self._reserve(text)
        return self._text(text, self._scanner(types))

    def redact_request(self, request: ChatRequest, types: frozenset[str]) -> ChatRequest:
        """A new request with every outgoing string and number redacted; `request` is
        left untouched."""
        if not types or not self._detectors:
            return request
        self._texts_of(request)
        return self._walk(request, self._scanner(types))

    def restore_text(self, text: str) -> str:
        if "<" not in text or not self._values:
            return text
        return _PLACEHOLDER.sub(self._lookup, text)

    def restore_json_text(self, text: str) -> str:
        """Restore inside JSON text: values are escaped so the JSON stays valid."""
        if "<" not in text or not self._values:
            return text
        return _PLACEHOLDER.sub(self._lookup_json, text)

    def restore_response(self, response: ChatResponse) -> ChatResponse:
        return response.with_answer(
            content=[TextPart(self.restore_text(p.text)) for p in response.content],
            tool_calls=[
                replace(
                    c,
                    name=self.restore_text(c.name),
                    arguments=self.restore_json_text(c.arguments),
                )
                for c in response.tool_calls
            ],
        )

    def stream_restorer(self) -> StreamRestorer:
        return StreamRestorer(frozenset(self._values), self.restore_text, self.restore_json_text)

    def _lookup(self, match: re.Match[str]) -> str:
        return self._values.get(match.group(0), match.group(0))

    def _lookup_json(self, match: re.Match[str]) -> str:
        value = self._values.get(match.group(0))
        if value is None:
            return match.group(0)
        return json.dumps(value, ensure_ascii=False)[1:-1]

    def _reserve(self, text: str) -> None:
        if "<" in text:
            self._reserved.update(m.group(0) for m in _PLACEHOLDER.finditer(text))

    def _wanted(self, types: frozenset[str]) -> list[int]:
        return [i for i, d in enumerate(self._detectors) if not d.entity_types.isdisjoint(types)]

    def _texts_of(self, request: ChatRequest) -> list[str]:
        """Every text redaction will scan for `request`, each reserved before any
        placeholder is issued: the walk itself, with a scan that only records."""
        if request is not self._walked:
            found: dict[str, None] = {}

            def record(text: str) -> list[Span]:
                found[text] = None
                return []

            self._walk(request, record)
            self._texts = [text for text in found if text]
            for text in self._texts:
                self._reserve(text)
            self._walked = request
        return self._texts

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
            found.extend(s for s in spans if s.entity_type in types)
        return found

    # -- the walk over what a provider codec sends ------------------------------------

    def _walk(self, request: ChatRequest, scan: Scan) -> ChatRequest:
        redacted = request.with_texts(
            messages=self._messages(request.messages, scan),
            system=_kept(request.system, self._run(request.system, scan)),
            tools=[self._tool(t, scan) for t in request.tools],
            stop=[self._text(s, scan) for s in request.stop],
            user=None if request.user is None else self._text(request.user, scan),
        )
        choice = request.tool_choice
        if choice is not None and choice not in _TOOL_CHOICES:
            named = self._text(choice, scan)  # a tool's name
            if named != choice:
                redacted = replace(redacted, tool_choice=named)
        return redacted

    def _messages(self, messages: list[Message], scan: Scan) -> list[Message]:
        """Consecutive messages of one turn are read as one text: Anthropic and Gemini
        send them as one turn's adjacent blocks (tool results as the user's)."""
        out: list[Message] = []
        start = 0
        while start < len(messages):
            turn = _turn(messages[start])
            end = start + 1
            while end < len(messages) and _turn(messages[end]) == turn:
                end += 1
            group = messages[start:end]
            redacted = iter(self._run([text for m in group for text in _texts(m)], scan))
            out.extend(self._message(m, redacted, scan) for m in group)
            start = end
        return out

    def _message(self, message: Message, redacted: Iterator[str], scan: Scan) -> Message:
        result = message.tool_result
        if result is not None:  # its texts come first in _texts
            result = replace(
                result,
                tool_call_id=self._text(result.tool_call_id, scan),
                content=self._parts(result.content, redacted, scan),
            )
        copy = message.with_parts(
            content=self._parts(message.content, redacted, scan),
            tool_calls=[self._call(c, scan) for c in message.tool_calls],
            tool_result=result,
        )
        if message.name is not None:
            name = self._text(message.name, scan)
            if name != message.name:
                copy = replace(copy, name=name)
        return copy

    def _parts(self, parts: list[Part], redacted: Iterator[str], scan: Scan) -> list[Part]:
        out: list[Part] = []
        for part in parts:
            if isinstance(part, TextPart):
                text = next(redacted)
                if text == part.text:
                    out.append(part)
                elif text:  # a part a split value took whole is dropped
                    out.append(TextPart(text))
            else:
                out.append(self._image(part, scan))
        return out

    def _image(self, part: ImagePart, scan: Scan) -> ImagePart:
        url = self._url(part.url, scan)
        media_type = None if part.media_type is None else self._text(part.media_type, scan)
        if url == part.url and media_type == part.media_type:
            return part
        return replace(part, url=url, media_type=media_type)

    def _url(self, url: str, scan: Scan) -> str:
        head = _IMAGE_DATA.match(url)
        if head is not None and self._is_image(url, head):
            return url
        if "%" in url:
            # A value in a URL is usually percent-escaped ("jane%40example.org"): when the
            # unescaped URL holds one, it leaves unescaped, with the value replaced.
            unescaped = unquote(url)
            redacted = self._text(unescaped, scan)
            if redacted != unescaped:
                return redacted
        return self._text(url, scan)

    def _is_image(self, url: str, head: re.Match[str]) -> bool:
        known = self._image_data.get(url)
        if known is None:
            payload = url[head.end() :]
            known = self._image_data[url] = _is_image_data(payload, head.group(1))
        return known

    def _call(self, call: ToolCall, scan: Scan) -> ToolCall:
        return replace(
            call,
            id=self._text(call.id, scan),
            name=self._text(call.name, scan),
            arguments=self._arguments(call.arguments, scan),
        )

    def _tool(self, tool: Tool, scan: Scan) -> Tool:
        return replace(
            tool,
            name=self._text(tool.name, scan),
            description=None if tool.description is None else self._text(tool.description, scan),
            parameters={
                self._text(k, scan): self._json(v, scan) for k, v in tool.parameters.items()
            },
        )

    def _arguments(self, text: str, scan: Scan) -> str:
        """Tool-call arguments leave parsed and written again, never as the client wrote
        them: what the text holds beyond its parsed value (a duplicate key's first
        value) is dropped. Unparsable arguments are read as plain text."""
        try:
            return json.dumps(self._json(json.loads(text), scan), ensure_ascii=False)
        except (ValueError, RecursionError):
            return self._text(text, scan)

    def _json(self, value: Any, scan: Scan) -> Any:
        if isinstance(value, str):
            return self._text(value, scan)
        if isinstance(value, dict):
            return {self._text(k, scan): self._json(v, scan) for k, v in value.items()}
        if isinstance(value, list):
            return [self._json(v, scan) for v in value]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        # A card or phone number sent as a JSON number leaves as a placeholder string.
        # Read without its sign (a detector takes "-4111..." for part of a longer token),
        # and a float also by its integral digits ("4111111111111111.0").
        magnitude = abs(value)
        forms = [str(magnitude)]
        if isinstance(magnitude, float) and magnitude.is_integer():
            forms.append(str(int(magnitude)))
        for form in forms:
            redacted = self._text(form, scan)
            if redacted != form:
                return "-" + redacted if value < 0 else redacted
        return value

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
        issued = self._placeholders.get(key)
        if issued is not None:
            return issued
        number = self._next[entity_type]
        while (placeholder := f"<{entity_type}_{number}>") in self._reserved:
            number += 1
        self._next[entity_type] = number + 1
        self._placeholders[key] = placeholder
        self._values[placeholder] = value
        return placeholder


def _merged(spans: list[Span]) -> list[Span]:
    """Spans in order, overlapping ones joined into one: no character any detector
    found is left out. The joined span takes the type of its longest part."""
    if len(spans) < 2:
        return spans
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


def _kept(originals: list[str], redacted: list[str]) -> list[str]:
    """The redacted texts, less those a value split over them took whole."""
    return [
        text for text, original in zip(redacted, originals, strict=True) if text or not original
    ]


def _turn(message: Message) -> str:
    return (
        "assistant"
        if message.role == "assistant"
        else "system"
        if message.role == "system"
        else "user"
    )


def _texts(message: Message) -> Iterator[str]:
    if message.tool_result is not None:
        yield from (p.text for p in message.tool_result.content if isinstance(p, TextPart))
    yield from (p.text for p in message.content if isinstance(p, TextPart))


def _is_image_data(payload: str, kind: str) -> bool:
    """Base64 of an image of that kind, by its first bytes, and nothing else."""
    if not payload.isascii() or payload.encode("ascii").translate(None, _BASE64_ALPHABET):
        return False
    try:
        start = base64.b64decode(payload[:16])
    except binascii.Error:
        return False
    return _SIGNATURES[kind].match(start) is not None


def _detect_each(detectors: Sequence[Detector], pending: list[tuple[int, str]]) -> list[list[Span]]:
    return [detectors[index].detect(text) for index, text in pending]
