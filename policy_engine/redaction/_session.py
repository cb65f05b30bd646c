"""Reversible redaction: values become `<TYPE_N>` placeholders and come back in the answer.

One `RedactionSession` serves one client request: every attempt (each provider with
its own obligation types) redacts through it, so a value keeps its placeholder across
fields and attempts, and the answer of whichever provider replied is restored with it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from adapters._model import (
    ChatRequest,
    ChatResponse,
    Message,
    Part,
    TextPart,
)
from policy_engine.redaction._cache import DetectionCache
from policy_engine.redaction._stream import StreamRestorer
from policy_engine.redaction._types import ENTITY_TYPES, Detector, Span

_PLACEHOLDER = re.compile("<(" + "|".join(sorted(ENTITY_TYPES)) + r")_([1-9]\d*)>")


class Redactor:
    """Long-lived and shared: holds the detectors and the detection cache (spans by
    text hash, see _cache), no per-request state. Used from the event loop only."""

    def __init__(self, detectors: Sequence[Detector], cache_entries: int = 0) -> None:
        """`cache_entries` > 0 keeps that many texts' spans across requests (see _cache)."""
        self._detectors = tuple(detectors)
        self.entity_types: frozenset[str] = frozenset().union(
            *(d.entity_types for d in self._detectors)
        )
        self._cache = DetectionCache(cache_entries) if cache_entries else None

    def uncovered(self, types: frozenset[str]) -> frozenset[str]:
        """Types no detector finds: a caller that must redact them should not send."""
        return types - self.entity_types

    def session(self) -> RedactionSession:
        return RedactionSession(self._detectors, self._cache)


class RedactionSession:
    def __init__(self, detectors: Sequence[Detector], cache: DetectionCache | None = None) -> None:
        self._detectors = detectors
        self._cache = cache
        self._placeholders: dict[tuple[str, str], str] = {}
        self._values: dict[str, str] = {}
        self._next: dict[str, int] = defaultdict(lambda: 1)
        # Placeholder-shaped strings already in the client's own text are never issued,
        # so restoring cannot turn the client's literal "<EMAIL_ADDRESS_1>" into a value.
        self._reserved: set[str] = set()
        # Detection does not depend on the types asked for, so each attempt after the
        # first reuses it (and a conversation repeats most of its text every turn).
        self._detected: dict[tuple[int, str], list[Span]] = {}

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for entity_type, _ in self._placeholders:
            counts[entity_type] += 1
        return dict(counts)

    def redact_text(self, text: str, types: frozenset[str]) -> str:
        self._reserve(text)
        return self._redact(text, types)

    def redact_request(self, request: ChatRequest, types: frozenset[str]) -> ChatRequest:
        """A new request with every outgoing text redacted; `request` is left untouched."""
        for original in _request_texts(request):
            self._reserve(original)

        def text(value: str) -> str:
            return self._redact(value, types)

        def arguments(value: str) -> str:
            return self._redact_json_text(value, types)

        redacted = request.with_texts(
            messages=[_map_message(m, text, arguments) for m in request.messages],
            system=[text(s) for s in request.system],
            tools=[
                replace(
                    t,
                    description=None if t.description is None else text(t.description),
                    parameters=self._redact_json(t.parameters, types),
                )
                for t in request.tools
            ],
            stop=[text(s) for s in request.stop],
            user=None if request.user is None else text(request.user),
        )
        self._redact_options(redacted, types)
        return redacted

    def _redact_options(self, request: ChatRequest, types: frozenset[str]) -> None:
        """The texts outside the conversation, on a fresh copy (rarely present)."""
        fmt = request.response_format
        if fmt is not None:
            # The schema name is an identifier ([A-Za-z0-9_-]{1,64}), checked on the way in.
            request.response_format = replace(
                fmt,
                schema=None if fmt.schema is None else self._redact_json(fmt.schema, types),
                description=None
                if fmt.description is None
                else self._redact(fmt.description, types),
            )
        if request.prediction is not None:
            request.prediction = self._redact(request.prediction, types)
        if request.safety_identifier is not None:
            request.safety_identifier = self._redact(request.safety_identifier, types)
        cache = request.prompt_cache
        if cache is not None and cache.key is not None:
            request.prompt_cache = replace(cache, key=self._redact(cache.key, types))

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
                replace(c, arguments=self.restore_json_text(c.arguments))
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

    def _reserve(self, text: str) -> None:
        if "<" in text:
            self._reserved.update(m.group(0) for m in _PLACEHOLDER.finditer(text))

    def _redact(self, text: str, types: frozenset[str]) -> str:
        if not text or not types:
            return text
        spans = self._spans(text, types)
        if not spans:
            return text
        pieces: list[str] = []
        last = 0
        for span in spans:
            pieces.append(text[last : span.start])
            pieces.append(self._placeholder(span.entity_type, text[span.start : span.end]))
            last = span.end
        pieces.append(text[last:])
        return "".join(pieces)

    def _spans(self, text: str, types: frozenset[str]) -> list[Span]:
        """Non-overlapping spans of the wanted types, in order; the longer wins a tie."""
        found: list[Span] = []
        for index, detector in enumerate(self._detectors):
            if detector.entity_types.isdisjoint(types):
                continue
            key = (index, text)
            spans = self._detected.get(key)
            if spans is None:
                spans = self._detected[key] = (
                    detector.detect(text)
                    if self._cache is None
                    else self._cache.spans(index, text, detector.detect)
                )
            found.extend(s for s in spans if s.entity_type in types)
        found.sort(key=lambda s: (s.start, s.start - s.end))
        kept: list[Span] = []
        for span in found:
            if not kept or span.start >= kept[-1].end:
                kept.append(span)
        return kept

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

    def _redact_json_text(self, text: str, types: frozenset[str]) -> str:
        """Redact the strings inside JSON, so a value is stored unescaped; unparsable
        arguments are redacted as plain text."""
        try:
            document = json.loads(text)
        except ValueError:
            return self._redact(text, types)
        redacted = self._redact_json(document, types)
        if redacted == document:
            return text  # untouched arguments keep the model's exact formatting
        return json.dumps(redacted, ensure_ascii=False)

    def _redact_json(self, value: Any, types: frozenset[str]) -> Any:
        if isinstance(value, str):
            return self._redact(value, types)
        if isinstance(value, dict):
            return {self._redact(k, types): self._redact_json(v, types) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redact_json(v, types) for v in value]
        if isinstance(value, int) and not isinstance(value, bool):
            # A phone or card number sent as a JSON number: it leaves as a placeholder string.
            as_text = str(value)
            redacted = self._redact(as_text, types)
            return value if redacted == as_text else redacted
        return value


def _map_parts(parts: list[Part], text: Callable[[str], str]) -> list[Part]:
    # Image parts go out as they are: an image's pixels are beyond a text detector.
    return [TextPart(text(p.text)) if isinstance(p, TextPart) else p for p in parts]


def _map_message(
    message: Message, text: Callable[[str], str], arguments: Callable[[str], str]
) -> Message:
    result = message.tool_result
    return message.with_parts(
        content=_map_parts(message.content, text),
        tool_calls=[replace(c, arguments=arguments(c.arguments)) for c in message.tool_calls],
        tool_result=None
        if result is None
        else replace(result, content=_map_parts(result.content, text)),
    )


def _request_texts(request: ChatRequest) -> Iterator[str]:
    yield from request.system
    yield from request.stop
    if request.user is not None:
        yield request.user
    for option in (request.prediction, request.safety_identifier):
        if option is not None:
            yield option
    if request.prompt_cache is not None and request.prompt_cache.key is not None:
        yield request.prompt_cache.key
    fmt = request.response_format
    if fmt is not None:
        if fmt.description is not None:
            yield fmt.description
        if fmt.schema is not None:
            yield json.dumps(fmt.schema, ensure_ascii=False)
    for message in request.messages:
        yield from (p.text for p in message.content if isinstance(p, TextPart))
        yield from (c.arguments for c in message.tool_calls)
        if message.tool_result is not None:
            parts = message.tool_result.content
            yield from (p.text for p in parts if isinstance(p, TextPart))
    for tool in request.tools:
        if tool.description is not None:
            yield tool.description
        yield json.dumps(tool.parameters, ensure_ascii=False)
