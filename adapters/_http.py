"""Shared helpers for reading provider answers: JSON bodies, status codes, Retry-After."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from adapters._base import ProviderError, ProviderErrorKind
from adapters._sse import SSEDecoder

# A provider's error text, as read: the router scrubs our keys out of it before it
# cuts it to what the client is shown, so a key is never cut in half here first.
_MAX_MESSAGE = 8192


def load_object(body: bytes | str, what: str) -> dict[str, Any]:
    """Parse a JSON object from a provider, or fail as MALFORMED_RESPONSE."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProviderError(
            ProviderErrorKind.MALFORMED_RESPONSE, f"{what} is not valid JSON: {exc}"
        ) from exc
    if not isinstance(value, dict):
        raise ProviderError(ProviderErrorKind.MALFORMED_RESPONSE, f"{what} is not a JSON object")
    return value


def malformed(message: str) -> ProviderError:
    return ProviderError(ProviderErrorKind.MALFORMED_RESPONSE, message)


def ended_early(sse: SSEDecoder, final: str) -> ProviderError:
    """A stream that ended without its final event: cut short, or never a stream at all."""
    if sse.bytes_fed and not sse.events_dispatched:
        return malformed("the body is not an event stream")
    return ProviderError(ProviderErrorKind.STREAM_INTERRUPTED, f"stream ended before {final}")


def kind_for_status(status: int, message: str = "") -> ProviderErrorKind:
    if status < 400:
        # A redirect (never followed: base URLs come from config only) is the
        # provider's fault, not the request's: the next provider may answer.
        return ProviderErrorKind.MALFORMED_RESPONSE
    if status in (401, 403):
        return ProviderErrorKind.AUTH
    if status == 429:
        return ProviderErrorKind.RATE_LIMITED
    if status in (408, 504):
        return ProviderErrorKind.TIMEOUT
    # Anthropic's 529; OpenAI-compatible servers and Gemini say "overloaded" on a 503.
    if status == 529 or (status == 503 and "overload" in message.lower()):
        return ProviderErrorKind.OVERLOADED
    if status >= 500:
        return ProviderErrorKind.SERVER_ERROR
    return ProviderErrorKind.INVALID_REQUEST


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup: the router may pass a plain dict of headers."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float | None:
    """Go-style durations as OpenAI sends in x-ratelimit-reset-* ("1s", "6m0s", "120ms")."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait, from Retry-After (seconds or HTTP-date) or OpenAI's reset headers."""
    millis = header(headers, "retry-after-ms")  # Azure OpenAI sends both; this one is finer
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = header(headers, "retry-after")
    if value is not None:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    resets = [
        parse_duration(v)
        for name in ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
        if (v := header(headers, name)) is not None
    ]
    known = [r for r in resets if r is not None]
    return max(known) if known else None


def body_text(body: bytes) -> str:
    return body[:_MAX_MESSAGE].decode("utf-8", errors="replace")
