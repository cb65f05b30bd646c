"""The only place that talks HTTP to providers, and the only place transport errors are
translated into provider error kinds.

The client is our own small HTTP/1.1 one (`_http1`, which says why), egress proxies
included; how each provider is reached is `_egress`'s.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from adapters import HttpRequest, ProviderError, ProviderErrorKind
from policy_engine.routing._budget import AnswerBudget, Reservation
from policy_engine.routing._egress import Egress, EgressTable
from policy_engine.routing._http1 import (
    ConnectFailed,
    ConnectTimedOut,
    Disconnected,
    Http1Error,
    Http1Pool,
    Http1Response,
)
from policy_engine.telemetry import get_logger

_log = get_logger("policy_engine.routing")

# What a failed exchange can raise; anything else is a bug, not a provider failure.
# Reading the body can fail only on the wire; sending can also find a URL or header
# that cannot go out (ValueError, before anything is sent).
_READ_ERRORS = (Http1Error, TimeoutError, OSError)
_SEND_ERRORS = (*_READ_ERRORS, ValueError)


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    # The body's share of the answer budget: held while the answer, decoded and written
    # back, is in memory (by whoever keeps this), given back once it is dropped.
    hold: Reservation


class Buffering(Protocol):
    """What reads a stream (its decoder): how many bytes it holds of an unfinished event."""

    @property
    def buffered(self) -> int: ...


@dataclass(slots=True)
class UpstreamStream:
    status: int
    headers: dict[str, str]
    _response: Http1Response
    _limit: int
    _read_timeout_s: float
    _reservation: Reservation
    _seen: int = 0

    async def chunks(
        self, deadline: float | None = None, reader: Buffering | None = None
    ) -> AsyncGenerator[bytes, None]:
        """The body, read by read, each read within the read timeout and all of it by
        `deadline` (time.monotonic(), as the router's): a provider that keeps a stream
        alive with comments or trickles does not keep it open past the deadline.
        What `reader` holds between reads counts against the answer budget."""
        try:
            while True:
                if deadline is not None and time.monotonic() >= deadline:
                    raise ProviderError(
                        ProviderErrorKind.TIMEOUT, "the stream outlived routing.deadline_s"
                    )
                chunk = await self._response.read(_within(self._read_timeout_s, deadline))
                if not chunk:
                    return
                self._seen = _counted(self._seen + len(chunk), self._limit)
                yield chunk
                if reader is not None:
                    self._reservation.resize(reader.buffered)
        except _READ_ERRORS as error:
            if deadline is not None and time.monotonic() >= deadline:
                raise ProviderError(
                    ProviderErrorKind.TIMEOUT, "the stream outlived routing.deadline_s"
                ) from None
            raise translate_error(error, mid_body=True) from None

    async def read_all(self) -> bytes:
        try:
            return await _read_bounded(
                self._response, self._limit - self._seen, self._read_timeout_s, self._reservation
            )
        finally:
            self._reservation.release()


def _counted(seen: int, limit: int) -> int:
    if seen > limit:
        raise ProviderError(ProviderErrorKind.MALFORMED_RESPONSE, "answer exceeds the size limit")
    return seen


def _within(timeout_s: float, deadline: float | None) -> float:
    """`timeout_s`, or less if `deadline` (time.monotonic(), as the router's) comes sooner."""
    return timeout_s if deadline is None else min(timeout_s, deadline - time.monotonic())


async def _read_bounded(
    response: Http1Response,
    limit: int,
    timeout_s: float,
    reservation: Reservation,
    deadline: float | None = None,
) -> bytes:
    """The whole body: each read within `timeout_s`, and all of it by `deadline`, held
    against the answer budget (the caller releases `reservation`)."""
    chunks: list[bytes] = []
    seen = 0
    try:
        while chunk := await response.read(_within(timeout_s, deadline)):
            seen = _counted(seen + len(chunk), limit)
            reservation.resize(seen)
            chunks.append(chunk)
    except _READ_ERRORS as error:
        raise translate_error(error, mid_body=True) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def translate_error(error: BaseException, *, mid_body: bool = False) -> ProviderError:
    """Map a transport exception to the provider error kinds the router acts on."""
    if isinstance(error, TimeoutError):
        return ProviderError(ProviderErrorKind.TIMEOUT, "the provider did not answer in time")
    if isinstance(error, Disconnected) and mid_body:
        return ProviderError(
            ProviderErrorKind.STREAM_INTERRUPTED, "the provider closed the connection mid-answer"
        )
    if isinstance(error, Http1Error):
        return ProviderError(
            ProviderErrorKind.MALFORMED_RESPONSE, "the provider sent an invalid HTTP response"
        )
    if isinstance(error, ConnectFailed):
        return ProviderError(ProviderErrorKind.CONNECTION, str(error))
    if isinstance(error, ValueError):
        return ProviderError(ProviderErrorKind.CONNECTION, "invalid provider URL or header")
    return ProviderError(
        ProviderErrorKind.CONNECTION, f"connection to the provider failed ({type(error).__name__})"
    )


class UpstreamTransport:
    def __init__(
        self,
        *,
        connect_timeout_s: float,
        first_byte_timeout_s: float,
        max_response_bytes: int = 32 * 1024 * 1024,
        budget: AnswerBudget | None = None,
        pool_size: int = 256,
        egress: EgressTable | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`egress` says how each provider is reached (default: directly, the system's
        CAs); `ssl_context` alone stands for direct egress with that context's CAs."""
        self._connect_timeout = connect_timeout_s
        # Also the longest wait between two reads of the body: a stalled stream times out.
        self._first_byte_timeout = first_byte_timeout_s
        self._max_response_bytes = max_response_bytes
        self.budget = budget or AnswerBudget(2 * max_response_bytes)
        self._pool = Http1Pool(
            connect_timeout_s=connect_timeout_s,
            keepalive_s=30,
            max_idle_per_origin=pool_size,
            egress=egress or (EgressTable(Egress(ssl_context)) if ssl_context else None),
        )

    async def _response(
        self, request: HttpRequest, provider: str | None, deadline: float | None = None
    ) -> Http1Response:
        """Send the request; return once the status and headers arrived (time to first byte),
        within the transport's own limits and by `deadline`."""
        timeout_s = _within(self._first_byte_timeout + self._connect_timeout, deadline)
        try:
            return await self._pool.request(
                request.method, request.url, request.headers, request.body, timeout_s, provider
            )
        except _SEND_ERRORS as error:
            if isinstance(error, ConnectFailed | ConnectTimedOut):
                # The reason an operator needs (a certificate, the proxy), which the
                # attempt's own line does not carry; hosts and reasons only, no request data.
                _log.warning("upstream_connect_failed", provider=provider, reason=str(error))
            raise translate_error(error) from None

    @asynccontextmanager
    async def open(
        self, request: HttpRequest, provider: str | None = None
    ) -> AsyncIterator[UpstreamStream]:
        """A streamed answer, read chunk by chunk inside the context."""
        response = await self._response(request, provider)
        reservation = self.budget.reservation()
        try:
            yield UpstreamStream(
                response.status,
                response.headers,
                response,
                self._max_response_bytes,
                self._first_byte_timeout,
                reservation,
            )
        finally:
            reservation.release()
            response.release()

    async def send(
        self, request: HttpRequest, budget_s: float | None = None, provider: str | None = None
    ) -> UpstreamResponse:
        """The whole answer at once (the non-streamed path: no per-chunk generator), within
        `budget_s` if given (the router's attempt budget).

        The budget is folded into the transport's own timeouts rather than wrapped around
        the call: an `asyncio.timeout` costs 3.5-4.3 µs under uvloop, on every request.
        """
        deadline = None if budget_s is None else time.monotonic() + budget_s
        response = await self._response(request, provider, deadline)
        reservation = self.budget.reservation()
        try:
            body = await _read_bounded(
                response, self._max_response_bytes, self._first_byte_timeout, reservation, deadline
            )
        except ProviderError as error:
            reservation.release()
            error.status = error.status or response.status  # for the attempt's record
            raise
        except BaseException:
            reservation.release()
            raise
        finally:
            response.release()
        return UpstreamResponse(response.status, response.headers, body, reservation)

    async def close(self) -> None:
        await self._pool.close()
