"""An ASGI wrapper that checks every chat and embeddings answer a test sidecar sends.

tests/sidecar.py puts it around every sidecar the suite starts, so every request any
test makes is held to the protocol: a 2xx is an answer that validates, an error has a
status of 400 or more and validates as the protocol's error, and every stream event
validates. Answers the client stopped reading before their end are not judged, nor
other methods than POST (the HTTP layer's 405).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from tests.conformance._validators import (
    anthropic_error_problems,
    anthropic_event_problems,
    anthropic_message_problems,
    embeddings_problems,
    openai_problems,
    responses_event_problems,
    responses_problems,
    sse_events,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ROUTES = {
    "/v1/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/v1/responses": "responses",
    "/v1/embeddings": "openai_embeddings",
}
# How a Responses stream may end: its answer, or an error event and the failed response.
_RESPONSES_ENDS = ("response.completed", "response.incomplete", "response.failed")


def answer_problems(protocol: str, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with one whole answer of a chat or embeddings route, if anything."""
    json_body = content_type.startswith("application/json")
    if status >= 400:
        if not json_body:
            return [f"a {status} error is {content_type or 'untyped'}"]
        document = orjson.loads(body)
        if protocol == "responses":
            return responses_problems("ErrorResponse", document)
        if protocol == "anthropic":
            return anthropic_error_problems(document)
        return openai_problems("ErrorResponse", document)
    if not 200 <= status < 300:
        return [f"status {status}"]
    if json_body:
        document = orjson.loads(body)
        if protocol == "openai_embeddings":
            if "error" in document:
                return [f"a {status} carries an error"]
            return embeddings_problems(document)
        if protocol == "openai":
            if "error" in document:
                return [f"a {status} carries an error"]
            return openai_problems("CreateChatCompletionResponse", document)
        if protocol == "responses":
            if "error" in document and document.get("object") != "response":
                return [f"a {status} carries an error"]
            return responses_problems("Response", document) + _final_problems(document)
        if document.get("type") == "error":
            return [f"a {status} carries an error"]
        return anthropic_message_problems(document)
    if not content_type.startswith("text/event-stream") or protocol == "openai_embeddings":
        return [f"a {status} answer is {content_type or 'untyped'}"]
    return _stream_problems(protocol, body)


def _final_problems(response: dict[str, object]) -> list[str]:
    """A Response a client gets as the answer is finished: completed or incomplete."""
    if response.get("status") not in ("completed", "incomplete"):
        return [f"an answer whose status is {response.get('status')!r}"]
    return []


def _responses_stream_problems(body: bytes) -> list[str]:
    """Typed events numbered 0, 1, 2... in order; opened by response.created; ended by
    the answer, or by an error event and then response.failed; nothing after the end."""
    events = sse_events(body)
    if not events:
        return ["an empty stream"]
    problems: list[str] = []
    kinds: list[str] = []
    for n, event in enumerate(events):
        data = orjson.loads(event.data)
        problems += [f"event {n}: {p}" for p in responses_event_problems(event.event, data)]
        kinds.append(data.get("type", "") if isinstance(data, dict) else "")
        if isinstance(data, dict) and data.get("sequence_number") != n:
            problems.append(f"event {n} has sequence_number {data.get('sequence_number')!r}")
    if kinds[0] != "response.created":
        problems.append(f"the stream opens with {kinds[0]!r}")
    if kinds[-1] not in _RESPONSES_ENDS:
        problems.append(f"the stream ends with {kinds[-1]!r}")
    if sum(kind in _RESPONSES_ENDS for kind in kinds) != 1:
        problems.append("the stream does not have exactly one end event")
    if "error" in kinds and kinds[kinds.index("error") :] != ["error", "response.failed"]:
        problems.append("an error event not followed by response.failed alone")
    return problems


def _stream_problems(protocol: str, body: bytes) -> list[str]:
    if protocol == "responses":
        return _responses_stream_problems(body)
    events = sse_events(body)
    if not events:
        return ["an empty stream"]
    problems: list[str] = []
    last = len(events) - 1
    for n, event in enumerate(events):
        if protocol == "openai":
            if event.data == "[DONE]":
                if n != last:
                    problems.append("[DONE] before the end")
                continue
            chunk = orjson.loads(event.data)
            if "error" in chunk:
                problems += openai_problems("ErrorResponse", chunk)
                if n != last:
                    problems.append("events after an error event")
            else:
                problems += openai_problems("CreateChatCompletionStreamResponse", chunk)
        else:
            problems += anthropic_event_problems(event.event or "", orjson.loads(event.data))
    final = events[last].data
    if protocol == "openai" and final != "[DONE]" and "error" not in orjson.loads(final):
        problems.append("the stream ends without [DONE] or an error event")
    if protocol == "anthropic" and events[last].event not in ("message_stop", "error"):
        problems.append(f"the stream ends with {events[last].event!r}")
    return problems


class ConformanceRecorder:
    """Wraps the sidecar's ASGI app; `problems` collects what any answer got wrong."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.problems: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # POST only: another method on these routes is the HTTP layer's 405, not an answer.
        chat = scope["type"] == "http" and scope.get("method") == "POST"
        protocol = _ROUTES.get(scope.get("path", "")) if chat else None
        if protocol is None:
            await self.app(scope, receive, send)
            return
        status = 0
        content_type = ""
        body = bytearray()

        async def recording_send(message: Message) -> None:
            nonlocal status, content_type
            await send(message)  # first: a client that left makes this raise, unjudged
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-type":
                        content_type = value.decode()
            elif message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    where = f"{scope['method']} {scope['path']} {status}"
                    self.problems += [
                        f"{where}: {p}"
                        for p in answer_problems(protocol, status, content_type, bytes(body))
                    ]

        await self.app(scope, receive, recording_send)
