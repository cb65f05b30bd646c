"""What a fake provider does with one request; each dialect renders it in its own wire shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Finish = Literal["stop", "length", "tool_calls", "content_filter"]


@dataclass(frozen=True)
class Call:
    """A tool call the fake model makes; `id` is generated when None."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Ok:
    """A normal answer. `text=None` means the fake's default (its `reply`, or an echo);
    `finish=None` means "tool_calls" when there are tool calls, else "stop"."""

    text: str | None = None
    tool_calls: tuple[Call, ...] = ()
    finish: Finish | None = None
    usage: tuple[int, int] = (11, 7)
    model: str | None = None  # the model the answer names; None: the one asked for


@dataclass(frozen=True)
class RateLimited:
    retry_after: float | None = 1


@dataclass(frozen=True)
class ServerError:
    status: int = 500


@dataclass(frozen=True)
class Unavailable:
    """503: the provider is down."""


@dataclass(frozen=True)
class Overloaded:
    """Anthropic 529 overloaded_error; the others answer 503 with their overloaded text."""


@dataclass(frozen=True)
class InvalidRequest:
    """400 in the provider's shape."""


@dataclass(frozen=True)
class ContentFilter:
    """The provider's refusal: OpenAI/Azure 400, Anthropic stop_reason refusal,
    Gemini promptFeedback.blockReason."""


@dataclass(frozen=True)
class Unauthorized:
    """401 (Gemini: 400 INVALID_ARGUMENT with reason API_KEY_INVALID, as Gemini does)."""


@dataclass(frozen=True)
class ConnectionReset:
    """Reset the TCP connection: before any header when `after_bytes` is None,
    else after that many bytes of the body."""

    after_bytes: int | None = None


@dataclass(frozen=True)
class SlowFirstByte:
    seconds: float


@dataclass(frozen=True)
class StallStream:
    """Send `after_events` stream events (or, not streamed, the headers), then wait."""

    after_events: int
    seconds: float


@dataclass(frozen=True)
class MalformedJSON:
    """200 whose JSON body (or one stream event's JSON) is cut short."""


@dataclass(frozen=True)
class MalformedSSE:
    """A stream whose events carry data that is not JSON at all."""


@dataclass(frozen=True)
class ErrorUnder200:
    """The provider's own "invalid request" error object under a 200 status: streamed,
    as the stream's first event (OpenAI and Gemini `data: {"error": ...}`, Anthropic
    `event: error`); otherwise as the whole body, as some compatible servers answer."""


@dataclass(frozen=True)
class StreamCut:
    """End the body cleanly after `after_events` events, without the final event."""

    after_events: int


@dataclass(frozen=True)
class WrongContentType:
    """200 text/html, as a captive portal or misrouted proxy would answer."""


@dataclass(frozen=True)
class Oversized:
    """A valid answer whose reply text is `bytes` long."""

    bytes: int


Behaviour = (
    Ok
    | RateLimited
    | ServerError
    | Unavailable
    | Overloaded
    | InvalidRequest
    | ContentFilter
    | Unauthorized
    | ConnectionReset
    | SlowFirstByte
    | StallStream
    | MalformedJSON
    | MalformedSSE
    | StreamCut
    | ErrorUnder200
    | WrongContentType
    | Oversized
)
ErrorBehaviour = (
    RateLimited
    | ServerError
    | Unavailable
    | Overloaded
    | InvalidRequest
    | ContentFilter
    | Unauthorized
)
