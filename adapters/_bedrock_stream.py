"""ConverseStream's answer: AWS event-stream frames, read by botocore's own parser.

Each frame is a prelude (total and header lengths, CRC32), typed headers
(`:message-type`, `:event-type` or `:exception-type`), a JSON payload and a CRC32 of
the whole. botocore's `EventStreamBuffer` checks both CRCs and the length limits; it
is handed one whole frame at a time, because it appends to an immutable bytes buffer
(quadratic for a large frame arriving in many reads).
"""

from __future__ import annotations

import struct
from typing import Any

from botocore.eventstream import DecodeUtils, EventStreamBuffer, EventStreamMessage, ParserError

from adapters import _validate as v
from adapters._base import ProviderError, ProviderErrorKind
from adapters._bedrock_wire import STOP, error_kind, usage
from adapters._http import load_object, malformed
from adapters._model import (
    FinishReason,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    Usage,
)

_PRELUDE = 12  # total length, headers length, prelude CRC
_SMALLEST = _PRELUDE + 4  # no headers, no payload, the message CRC
# botocore's own limits (128 KiB of headers, 24 MiB of payload), checked on the prelude
# before the frame is waited for.
_LARGEST = _SMALLEST + 128 * 1024 + 24 * 1024 * 1024
_FRAME_ERRORS = (ParserError, KeyError, IndexError, ValueError, struct.error)


def _prelude_length(prelude: bytes) -> int:
    """The frame's total length, once botocore has checked the prelude's CRC and limits:
    a corrupt length is refused before any byte is buffered for it."""
    (total, headers, _), _ = DecodeUtils.unpack_prelude(prelude)
    if not _SMALLEST <= total <= _LARGEST or headers > total - _SMALLEST:
        raise malformed("event-stream frame lengths are out of range")
    checker = EventStreamBuffer()
    checker.add_data(prelude)
    try:
        next(checker)
    except StopIteration:  # the prelude is sound; the rest of the frame is still to come
        pass
    except _FRAME_ERRORS as error:
        raise malformed(f"event-stream prelude: {type(error).__name__}") from None
    return int(total)


def _frame(data: bytes) -> EventStreamMessage:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    try:
        return next(buffer)
    except (StopIteration, *_FRAME_ERRORS) as error:
        raise malformed(f"event-stream frame: {type(error).__name__}") from None


def _header(message: EventStreamMessage, name: str) -> str:
    headers: Any = message.headers  # botocore's stubs type it loosely: a dict of values
    value = headers.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > v.MAX_ID_CHARS:
        raise malformed(f"event-stream header {name} is not a short string")
    return value


def _block_index(payload: dict[str, Any]) -> int:
    index = payload.get("contentBlockIndex", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 2**31:
        raise malformed("contentBlockIndex is not a non-negative integer")
    return index


class BedrockStreamDecoder:
    def __init__(self) -> None:
        self._pending = bytearray()
        self._total: int | None = None  # the length of the frame being gathered
        self._frames = 0
        self._started = False
        self._tools: dict[int, int] = {}  # content block index -> tool call index
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        self._ended = False

    @property
    def buffered(self) -> int:
        return len(self._pending)

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        self._pending += chunk
        out: list[StreamEvent] = []
        while len(self._pending) >= _PRELUDE:
            if self._total is None:
                self._total = _prelude_length(bytes(self._pending[:_PRELUDE]))
            if len(self._pending) < self._total:
                break
            data = bytes(self._pending[: self._total])
            del self._pending[: self._total]
            self._total = None
            self._frames += 1
            if not self._ended:
                self._message(_frame(data), out)
        return out

    def close(self) -> list[StreamEvent]:
        if self._ended:
            return []
        if self._finish is None or self._pending:
            if not self._frames:
                raise malformed("the body is not an event stream")
            where = "mid-frame" if self._pending else "before messageStop"
            raise ProviderError(ProviderErrorKind.STREAM_INTERRUPTED, f"stream ended {where}")
        self._ended = True
        return [StreamEnd(self._finish, self._usage)]

    def _message(self, message: EventStreamMessage, out: list[StreamEvent]) -> None:
        kind = _header(message, ":message-type")
        if kind == "exception":
            code = _header(message, ":exception-type")
            payload = load_object(message.payload, f"{code or 'exception'} payload")
            text = v.error_text(payload.get("message")) or v.error_text(payload.get("Message"))
            raise ProviderError(error_kind(code, None, text), text, provider_code=code or None)
        if kind == "error":
            code = _header(message, ":error-code")
            text = _header(message, ":error-message")
            raise ProviderError(error_kind(code, None, text), text, provider_code=code or None)
        if kind != "event":
            raise malformed("event-stream frame is neither an event nor an exception")
        event = _header(message, ":event-type")
        payload = load_object(message.payload, f"{event or 'event'} payload")
        if not self._started:
            self._started = True
            out.append(StreamStart("", ""))
        if event == "contentBlockStart":
            self._block_start(payload, out)
        elif event == "contentBlockDelta":
            self._block_delta(payload, out)
        elif event == "messageStop":
            stop = v.finish_reason(payload.get("stopReason"), STOP, "stop", "stopReason")
            self._finish = stop or "stop"
        elif event == "metadata":
            self._usage = usage(payload.get("usage"))
            if self._finish is not None:
                # The last event: usage arrives after the stop reason.
                self._ended = True
                out.append(StreamEnd(self._finish, self._usage))
        # messageStart, contentBlockStop and event types added later carry nothing the
        # shared model holds.

    def _block_start(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        start = v.answer_object(payload.get("start"), "contentBlockStart.start")
        tool = start.get("toolUse")
        if tool is None:
            return
        block = v.answer_object(tool, "start.toolUse")
        call_id = v.answer_id(block.get("toolUseId"), "start.toolUse.toolUseId")
        name = v.answer_id(block.get("name"), "start.toolUse.name")
        if not call_id or not name:
            raise malformed("start.toolUse lacks its toolUseId or name")
        index = v.tool_index(len(self._tools), "tool call count")
        self._tools[_block_index(payload)] = index
        out.append(ToolCallDelta(index, call_id, name, ""))

    def _block_delta(self, payload: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = v.answer_object(payload.get("delta"), "contentBlockDelta.delta")
        index = _block_index(payload)
        if "text" in delta:
            out.append(TextDelta(v.answer_text(delta["text"], "delta.text")))
        elif "toolUse" in delta:
            tool = self._tools.get(index)
            if tool is None:
                raise malformed("a toolUse delta for a block that is not a tool use")
            fragment = v.answer_object(delta["toolUse"], "delta.toolUse").get("input")
            out.append(ToolCallDelta(tool, None, None, v.answer_text(fragment, "delta.toolUse")))
        # reasoningContent (thinking) is not relayed, as Anthropic's thinking is not.
