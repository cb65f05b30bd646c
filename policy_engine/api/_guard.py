"""Slow and greedy clients, bounded where uvicorn leaves it open.

uvicorn (httptools) has a keep-alive timeout between requests and nothing else: no
limit on connections, on the time or size of a request's head, or on the time its body
may take, so connections trickling a header line every few seconds stay open for good.
This protocol adds those four bounds (the `server.*` settings):
- past `max_connections`, a new connection is answered 503 and closed;
- a request head must arrive whole within `header_timeout_s` (else 408, closed) and
  stay under `max_header_bytes` (else 431, closed);
- its body must arrive within `body_timeout_s`: the application then reads the body as
  ended and answers 408 in the route's protocol (audited), and the connection closes.

It subclasses uvicorn's HttpToolsProtocol and reads its request cycle's state
(`cycle.body`, `more_body`, `keep_alive`, `message_event`): no public uvicorn API
reaches a request in flight; tests/api/test_slow_clients.py holds it to account.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Set in the request's ASGI scope when its body did not arrive in time.
BODY_TIMED_OUT = "policy_engine.body_timeout"
# An application that does not answer a timed-out body within this is cut off.
_GRACE_S = 5.0
# How long a connection closed while its client may still be sending reads and drops
# what comes, after its FIN, before it closes (nginx's lingering close, for the reason
# given in `_linger`).
_LINGER_S = 2.0


@dataclass(frozen=True, slots=True)
class ClientLimits:
    max_connections: int
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int


def _plain(status: bytes, message: bytes) -> bytes:
    # Before a request is read there is no protocol to answer in: plain text, closed.
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % len(message) + message
    )


_TOO_MANY = _plain(b"503 Service Unavailable", b"too many connections")
_HEAD_LATE = _plain(b"408 Request Timeout", b"the request head did not arrive in time")
_HEAD_LARGE = _plain(b"431 Request Header Fields Too Large", b"the request head is too large")


class _Sweeper:
    """Checks the guarded connections' deadlines a few times a second. A deadline is a
    number each request sets (0.1 us); a timer armed and cancelled per request would
    cost a loop call each time, three times a request."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.connections: set[GuardedHttpToolsProtocol] = set()
        self._handle: asyncio.TimerHandle | None = None

    def add(self, connection: GuardedHttpToolsProtocol) -> None:
        self.connections.add(connection)
        if self._handle is None:
            self._handle = connection.loop.call_later(self.interval_s, self._sweep, connection.loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for connection in [c for c in self.connections if c.deadline is not None]:
            if connection.deadline is not None and connection.deadline <= now:
                connection.expired()
        self._handle = (
            loop.call_later(self.interval_s, self._sweep, loop) if self.connections else None
        )


class _LingeringClose:
    """The transport as uvicorn sees it: its own, but for `close`, which asks the
    protocol first (see `GuardedHttpToolsProtocol.close`). The methods uvicorn calls are
    the transport's bound methods, so a write costs what it did."""

    def __init__(self, transport: asyncio.Transport, protocol: GuardedHttpToolsProtocol) -> None:
        self.write = transport.write
        self.is_closing = transport.is_closing
        self.get_extra_info = transport.get_extra_info
        self.pause_reading = transport.pause_reading
        self.resume_reading = transport.resume_reading
        self.set_protocol = transport.set_protocol
        self.close = protocol.close


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[ClientLimits]
    sweeper: ClassVar[_Sweeper]

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # uvicorn's own signature
        super().__init__(*args, **kwargs)
        self.deadline: float | None = None  # loop time by which the awaited part must come
        self._in_head = True  # until a request's head is in, and again once its body is
        self._head_bytes = 0
        self._refused = False
        self._body_cut = False
        self._lingering = False

    @classmethod
    def with_limits(cls, limits: ClientLimits) -> type[GuardedHttpToolsProtocol]:
        """The protocol class for one server: its limits, and one sweeper for its connections."""
        interval_s = min(1.0, limits.header_timeout_s / 4, limits.body_timeout_s / 4)
        namespace = {"limits": limits, "sweeper": _Sweeper(interval_s)}
        return type(cls.__name__, (cls,), namespace)

    # -- connection -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refused = True
            self.transport = transport
            transport.write(_TOO_MANY)
            transport.close()
            return
        self._socket = transport
        super().connection_made(cast(asyncio.Transport, _LingeringClose(transport, self)))
        self.deadline = self.loop.time() + self.limits.header_timeout_s
        self.sweeper.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sweeper.connections.discard(self)
        if self._refused:
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self._lingering:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(_HEAD_LARGE)

    # -- parser callbacks -------------------------------------------------------------

    def on_message_begin(self) -> None:
        # A kept-alive connection's next request begins (a new connection's deadline
        # runs from its start); between requests uvicorn's keep-alive timer is the bound.
        if self.deadline is None:
            self.deadline = self.loop.time() + self.limits.header_timeout_s
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self.deadline = self.loop.time() + self.limits.body_timeout_s
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.deadline = None
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    # -- past a deadline ----------------------------------------------------------------

    def expired(self) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if self._lingering:
            self._socket.close()
        elif self._in_head:
            self._refuse(_HEAD_LATE)
        elif self._body_cut or cycle is None or cycle.response_started or not cycle.more_body:
            # Answered already (or the rest of the body trickles in after the answer,
            # which uvicorn would read and drop for as long as it keeps coming).
            self._linger()
        else:
            # The application waits for the body: it gets an ended one and the mark,
            # and answers 408 in its protocol; this connection then closes.
            self.scope.setdefault("extensions", {})[BODY_TIMED_OUT] = {}
            cycle.body = bytearray()
            cycle.more_body = False
            cycle.keep_alive = False
            cycle.message_event.set()
            self._body_cut = True
            self.deadline = self.loop.time() + _GRACE_S

    def close(self) -> None:
        """uvicorn closes the connection: at once, unless its request's body may still be
        coming (an answer before the whole body, or to a body that came too slowly)."""
        cycle = self.cycle
        if (
            self._lingering
            or self._socket.is_closing()
            or not (self._body_cut or (cycle is not None and cycle.more_body))
        ):
            self._socket.close()
        else:
            self._linger()

    def _refuse(self, answer: bytes) -> None:
        self.transport.write(answer)
        self._linger()

    def _linger(self) -> None:
        """End a connection whose client may still be sending. Closed at once with
        bytes unread, the socket would be reset, and a reset can reach the client before
        it has read its answer, which is then lost. So: the answer and a FIN now, what
        still comes read and dropped, and the close `_LINGER_S` later (the sweeper)."""
        self._lingering = True
        self.flow.resume_reading()  # keep reading what comes, to drop it
        if self._socket.can_write_eof():
            self._socket.write_eof()
        self.deadline = self.loop.time() + _LINGER_S
