"""The Anthropic Messages protocol as the sidecar speaks it to its clients: the answer,
plain and streamed (the request is read in `_anthropic_request`)."""

from __future__ import annotations

from typing import Any

import orjson

from adapters._anthropic_request import decode_request
from adapters._errors import ANTHROPIC_TYPES, ErrorType
from adapters._model import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    Usage,
)

_STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}


def _input(arguments: str) -> Any:
    """The tool input object; a provider's malformed arguments become an empty object."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": ANTHROPIC_TYPES[ErrorType(error_type)], "message": message},
    }


class AnthropicClientCodec:
    def decode_request(self, body: Any) -> ChatRequest:
        return decode_request(body)

    def encode_response(
        self, response: ChatResponse, request: ChatRequest, request_id: str, model: str
    ) -> bytes:
        content: list[dict[str, Any]] = [{"type": "text", "text": p.text} for p in response.content]
        content += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
            for c in response.tool_calls
        ]
        body = {
            "id": f"msg_{request_id}",
            "type": "message",
            "role": "assistant",
            "content": content,
            "model": model,
            "stop_reason": _STOP_REASONS[response.finish_reason],
            "stop_sequence": None,
            "usage": _usage(response.usage),
        }
        return orjson.dumps(body)

    def stream_encoder(
        self, request: ChatRequest, request_id: str, model: str
    ) -> AnthropicStreamEncoder:
        return AnthropicStreamEncoder(f"msg_{request_id}", model)

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes:
        # Anthropic's error shape has no field for the parameter; the message names it.
        return orjson.dumps(error_body(error_type, message))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name} | data) + b"\n\n"


class AnthropicStreamEncoder:
    """message_start, then per block start/delta.../stop, message_delta, message_stop.

    Tool-call deltas are expected one call at a time (as OpenAI and Anthropic stream
    them); a fragment for an earlier call is appended to the open block.
    """

    def __init__(self, message_id: str, model: str) -> None:
        self._id = message_id
        self._model = model
        self._started = False
        self._pinged = False
        self._blocks = 0
        self._open: str | None = None  # "text" or "tool_use"
        self._input_tokens = 0

    def encode(self, event: StreamEvent) -> bytes:
        out = b"" if self._started else self._start(event)
        if isinstance(event, TextDelta):
            if self._open != "text":
                out += self._open_block({"type": "text", "text": ""}, "text")
            out += self._delta({"type": "text_delta", "text": event.text})
        elif isinstance(event, ToolCallDelta):
            if event.id is not None or self._open != "tool_use":
                block = {
                    "type": "tool_use",
                    "id": event.id or "",
                    "name": event.name or "",
                    "input": {},
                }
                out += self._open_block(block, "tool_use")
            if event.arguments:
                out += self._delta({"type": "input_json_delta", "partial_json": event.arguments})
        elif isinstance(event, StreamEnd):
            out += self._close_block()
            usage = event.usage or Usage(self._input_tokens, 0)
            out += _event(
                "message_delta",
                {
                    "delta": {
                        "stop_reason": _STOP_REASONS[event.finish_reason],
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": usage.output_tokens},
                },
            )
            out += _event("message_stop", {})
        return out

    def _start(self, event: StreamEvent) -> bytes:
        self._started = True
        if isinstance(event, StreamStart) and event.usage is not None:
            self._input_tokens = event.usage.input_tokens
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self._model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return _event("message_start", {"message": message})

    def _open_block(self, block: dict[str, Any], kind: str) -> bytes:
        out = self._close_block()
        self._open = kind
        out += _event("content_block_start", {"index": self._blocks, "content_block": block})
        if not self._pinged:
            # Anthropic's documented sequence has a ping after the first block start.
            self._pinged = True
            out += _event("ping", {})
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"index": self._blocks, "delta": delta})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        self._blocks += 1
        return _event("content_block_stop", {"index": self._blocks - 1})

    def encode_error(self, status: int, error_type: str, message: str) -> bytes:
        return b"event: error\ndata: " + orjson.dumps(error_body(error_type, message)) + b"\n\n"
