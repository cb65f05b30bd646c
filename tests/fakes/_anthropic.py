"""Anthropic Messages API, from the public API reference and streaming guide."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from tests.fakes._behaviours import (
    ContentFilter,
    ErrorBehaviour,
    InvalidRequest,
    Ok,
    Overloaded,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
)
from tests.fakes._dialect import (
    JsonAsked,
    Reply,
    Route,
    dumps,
    finish_of,
    json_reply,
    pieces,
    sse,
    under_200,
)
from tests.fakes._json_mode import unknown_fields

_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def _error(
    status: int, type_: str, message: str, headers: Mapping[str, str] | None = None
) -> Reply:
    return json_reply(
        status, {"type": "error", "error": {"type": type_, "message": message}}, headers
    )


# MessageCreateParams (anthropic SDK 2.17) plus the sampling fields the API still takes.
_FIELDS = frozenset(
    {
        "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
        "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier",
        "output_config", "cache_control", "container", "diagnostics", "inference_geo",
        "speed", "mcp_servers", "context_management",
    }
)  # fmt: skip


class AnthropicDialect:
    def request_problem(self, body: Mapping[str, Any]) -> Reply | None:
        unknown = unknown_fields(body, _FIELDS)
        if unknown:
            return _error(
                400, "invalid_request_error", f"{unknown[0]}: Extra inputs are not permitted"
            )
        return None

    def json_asked(self, body: Mapping[str, Any]) -> JsonAsked | None:
        fmt = (body.get("output_config") or {}).get("format") or {}
        return JsonAsked(fmt.get("schema") or {}) if fmt.get("type") == "json_schema" else None

    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None:
        if method == "POST" and path == "/v1/messages":
            return Route(stream=None, model="")
        return None

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return headers.get("x-api-key") == api_key

    def header_problem(self, headers: Mapping[str, str]) -> Reply | None:
        if headers.get("anthropic-version") is None:
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    def echo(self, body: Any) -> str | None:
        for message in reversed(body.get("messages") or []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, str):
                return content
            texts = [b.get("text", "") for b in content or [] if b.get("type") == "text"]
            if texts:
                return "".join(texts)
        return None

    def ok(self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]) -> Reply:
        message_id = f"msg_{uuid.uuid4().hex[:24]}"
        finish = finish_of(ok)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        blocks += [
            {
                "type": "tool_use",
                "id": call.id or f"toolu_{uuid.uuid4().hex[:24]}",
                "name": call.name,
                "input": dict(call.arguments),
            }
            for call in ok.tool_calls
        ]
        if not stream:
            return json_reply(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": _STOP[finish],
                    "stop_sequence": None,
                    "usage": {"input_tokens": ok.usage[0], "output_tokens": ok.usage[1]},
                },
            )
        start = {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": ok.usage[0], "output_tokens": 1},
            },
        }
        events = [sse(start, "message_start")]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                opening, fragments = {"type": "text", "text": ""}, pieces(block["text"])
                deltas = [{"type": "text_delta", "text": f} for f in fragments]
            else:
                opening = block | {"input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": f}
                    for f in pieces(dumps(block["input"]).decode())
                ]
            events.append(
                sse(
                    {"type": "content_block_start", "index": index, "content_block": opening},
                    "content_block_start",
                )
            )
            if index == 0:
                # The documented example stream has a ping right after the first block start.
                events.append(sse({"type": "ping"}, "ping"))
            events += [
                sse(
                    {"type": "content_block_delta", "index": index, "delta": d},
                    "content_block_delta",
                )
                for d in deltas
            ]
            events.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        events.append(
            sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": _STOP[finish], "stop_sequence": None},
                    "usage": {"output_tokens": ok.usage[1]},
                },
                "message_delta",
            )
        )
        events.append(sse({"type": "message_stop"}, "message_stop"))
        return Reply(200, events=events, headers={"content-type": "text/event-stream"})

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply:
        if isinstance(behaviour, RateLimited):
            headers = (
                {}
                if behaviour.retry_after is None
                else {"retry-after": f"{behaviour.retry_after:g}"}
            )
            return _error(
                429,
                "rate_limit_error",
                "Number of request tokens has exceeded your rate limit.",
                headers,
            )
        if isinstance(behaviour, ServerError):
            return _error(behaviour.status, "api_error", "Internal server error")
        if isinstance(behaviour, Unavailable):
            return _error(503, "api_error", "Service unavailable")
        if isinstance(behaviour, Overloaded):
            return _error(529, "overloaded_error", "Overloaded")
        if isinstance(behaviour, InvalidRequest):
            return _error(400, "invalid_request_error", "max_tokens: Field required")
        if isinstance(behaviour, ContentFilter):
            # Claude refuses with a normal 200 answer whose stop_reason is "refusal".
            return self.ok(Ok(text="", finish="content_filter"), "", model, stream, {})
        assert isinstance(behaviour, Unauthorized)
        return _error(401, "authentication_error", "invalid x-api-key")

    def error_under_200(self, stream: bool) -> Reply:
        # The streaming guide: errors after the 200 arrive as an `error` event.
        error = {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
        }
        return under_200(error, stream, "error")

    def not_found(self, path: str) -> Reply:
        return _error(404, "not_found_error", f"Not found: {path}")
