"""What each provider dialect of the fake server must be able to render."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tests.fakes._behaviours import ErrorBehaviour, Finish, Ok


@dataclass(frozen=True)
class Route:
    stream: bool | None  # None: the body's "stream" field decides
    model: str


@dataclass(frozen=True)
class JsonAsked:
    """The request asks for JSON output: matching `schema`, or any object when None."""

    schema: Mapping[str, Any] | None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    events: list[bytes] | None = None  # complete SSE events; the last is the final one
    headers: dict[str, str] = field(default_factory=dict)


class Dialect(Protocol):
    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None: ...

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool: ...

    def header_problem(self, headers: Mapping[str, str]) -> Reply | None:
        """A reply for a missing protocol header (other than the key), if any."""
        ...

    def echo(self, body: Any) -> str | None: ...

    def request_problem(self, body: Mapping[str, Any]) -> Reply | None:
        """The provider's 400 for a field it does not know, as the real API refuses it."""
        ...

    def json_asked(self, body: Mapping[str, Any]) -> JsonAsked | None:
        """Whether the request asks for JSON, read from the provider's own wire fields."""
        ...

    def ok(
        self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]
    ) -> Reply: ...

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply: ...

    def error_under_200(self, stream: bool) -> Reply:
        """The provider's invalid-request error object, sent with status 200."""
        ...

    def not_found(self, path: str) -> Reply: ...


def dumps(value: Any) -> bytes:
    """Plain json, not orjson: the fakes share no code with the codecs under test."""
    return json.dumps(value).encode()


def json_reply(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Reply:
    return Reply(
        status, dumps(value), headers={"content-type": "application/json", **(headers or {})}
    )


def under_200(error: Any, stream: bool, event: str | None = None) -> Reply:
    if stream:
        return Reply(200, events=[sse(error, event)], headers={"content-type": "text/event-stream"})
    return json_reply(200, error)


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def pieces(text: str, count: int = 3) -> list[str]:
    """Split text into up to `count` fragments, so clients must concatenate."""
    if not text:
        return []
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]


def tokens_of(text: str) -> list[str]:
    """The answer cut into tokens for log probabilities: words with their leading space."""
    tokens: list[str] = []
    for n, word in enumerate(text.split(" ")):
        tokens.append(word if n == 0 else f" {word}")
    return [t for t in tokens if t]


def finish_of(ok: Ok) -> Finish:
    if ok.finish is not None:
        return ok.finish
    return "tool_calls" if ok.tool_calls else "stop"
