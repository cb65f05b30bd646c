"""Codec calls on provider answers: whatever a codec lets slip is a malformed answer.

Codecs validate every value they read and raise ProviderError. Should an answer get
past their checks anyway, the router sees a malformed answer (and falls back), never
a 500, and the log says which line of which codec to fix.
"""

from __future__ import annotations

import traceback

from adapters import ProviderError, ProviderErrorKind, StreamDecoder, StreamEvent
from policy_engine.telemetry import get_logger

_log = get_logger("policy_engine.routing")

CODEC_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


def unreadable(provider: str, error: BaseException) -> ProviderError:
    frames = traceback.extract_tb(error.__traceback__)
    _log.error(
        "answer_unreadable",
        provider=provider,
        error=type(error).__name__,
        at=f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?",
        hint="a codec let an invalid answer through its checks",
    )
    return ProviderError(ProviderErrorKind.MALFORMED_RESPONSE, "the answer could not be read")


def feed(provider: str, decoder: StreamDecoder, chunk: bytes | None) -> list[StreamEvent]:
    """The decoder's events for `chunk` (None: the body ended)."""
    try:
        return decoder.close() if chunk is None else decoder.feed(chunk)
    except CODEC_ERRORS as error:
        raise unreadable(provider, error) from None
