"""A small HTTP/1.1 client for the provider hop: keep-alive pool, httptools parser.

Why our own rather than aiohttp: the provider hop is on every request, and aiohttp's
ClientSession spent ~84 µs of CPU per call here against ~23 µs for this client, which
took the sidecar's added p50 at one request in flight from 1.12 to 0.83 ms in the
gateway benchmark (bench/PERF_NOTES.md, "Upstream client"); it was the largest cost
left in the pipeline. The subset needed is small and fixed by our own codecs: one request
at a time per connection with a Content-Length body, answers framed by
Content-Length, chunked encoding or the end of the connection, TLS from the standard
library, no redirects (never followed: base URLs come from config only), no proxies,
no compression (we ask for identity). httptools (llhttp, the parser behind Node.js)
does the parsing; uvicorn already depends on it.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

import httptools

# Buffered answer bytes above which the socket stops being read until the reader
# catches up, and below which it resumes.
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 16
# llhttp leaves the size of an answer's head to its user; nginx's default is 8-32 KiB.
_MAX_HEAD = 64 * 1024
_UNSAFE = re.compile(r"[\r\n\0]")


class Http1Error(Exception):
    """The provider's bytes are not an HTTP/1.1 answer we can read."""


class Disconnected(ConnectionError):
    """The provider closed the connection before the answer was complete."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    authority: str  # the Host header


@lru_cache(maxsize=1024)  # URLs come from config: a handful per provider
def _split(url: str) -> tuple[_Origin, str]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("invalid provider URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    default = (parts.scheme, port) in (("http", 80), ("https", 443))
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    authority = host if default else f"{host}:{port}"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return _Origin(parts.scheme, parts.hostname, port, authority), path


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one exchange at a time."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._head: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._data: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._header_list: list[tuple[str, str]] = []
        self._head_size = 0
        self._until_close = False
        self._keep_alive = False
        self.status = 0
        self.complete = False
        self.closed = False
        self.idle_since = 0.0
        self.error: BaseException | None = None

    # -- protocol callbacks -----------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(Http1Error(f"the provider sent an invalid HTTP answer ({error})"))
            self.close()
        except httptools.HttpParserUpgrade:
            # 101 Switching Protocols (or a CONNECT answer): we never asked for either.
            self._fail(Http1Error("the provider switched protocols"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete:
            return
        if self._until_close and exc is None and self._head is not None and self._head.done():
            # An answer with neither a length nor chunks ends with the connection.
            self.complete = True
            self._wake()
            return
        self._fail(Disconnected("the provider closed the connection"))

    # -- parser callbacks (httptools calls these by name) ---------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value)
        if self._head_size > _MAX_HEAD:
            raise Http1Error("the answer's headers exceed 64 KiB")
        self._header_list.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        if self.status < 200:
            # An interim answer (we never send Expect, but a provider may send one);
            # its headers are not the answer's.
            self._header_list = []
            return
        names = {name for name, _ in self._header_list}
        chunked = any(
            name == "transfer-encoding" and "chunked" in value.lower()
            for name, value in self._header_list
        )
        self._until_close = (
            "content-length" not in names and not chunked and self.status not in (204, 304)
        )
        if self._head is not None and not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self._data.append(body)
        self._buffered += len(body)
        if self._buffered > _HIGH_WATER and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.status < 200:
            return  # the interim answer ended; the real one follows
        # Asked now: once the message is done the parser no longer knows.
        self._keep_alive = self._parser.should_keep_alive()
        self.complete = True
        self._wake()

    # -- used by the pool and the response --------------------------------------------

    @property
    def reusable(self) -> bool:
        return self.complete and self._keep_alive and not self.closed

    def exchange(self, head: bytes, body: bytes | None) -> asyncio.Future[None]:
        """Send one request; the future resolves when the answer's head arrived."""
        assert self._transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._header_list = []
        self._head_size = 0
        self._data.clear()
        self._buffered = 0
        self.status = 0
        self.complete = self._until_close = self._keep_alive = False
        self.error = None
        self._head = self._loop.create_future()
        self._transport.writelines([head, body] if body else [head])
        return self._head

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self._header_list:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return headers

    async def read(self, timeout_s: float) -> bytes:
        """What arrived of the body since the last read; b"" once it is complete."""
        while not self._data:
            if self.complete:
                return b""
            if self.error is not None:
                raise self.error
            self._waiter = self._loop.create_future()
            await _wait(self._waiter, timeout_s)
        chunk = self._data.popleft() if len(self._data) == 1 else b"".join(self._data)
        self._data.clear()
        self._buffered = 0
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()
        return chunk

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:
            self.error = error
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Http1Response:
    """An answer whose head arrived; read the body, then release the connection."""

    def __init__(self, pool: Http1Pool, origin: _Origin, connection: _Connection) -> None:
        self._pool = pool
        self._origin = origin
        self._connection = connection
        self.status = connection.status
        self.headers = connection.headers()  # lower-cased names

    async def read(self, timeout_s: float) -> bytes:
        """The next piece of the body (waiting at most `timeout_s`), or b"" at its end."""
        return await self._connection.read(timeout_s)

    def release(self) -> None:
        """Back to the pool if the exchange finished cleanly, else closed."""
        self._pool.release(self._origin, self._connection)


class Http1Pool:
    def __init__(
        self,
        *,
        connect_timeout_s: float,
        keepalive_s: float = 30.0,
        max_idle_per_origin: int = 256,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout_s
        self._keepalive = keepalive_s
        self._max_idle = max_idle_per_origin
        self._ssl = ssl_context
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout_s: float,
    ) -> Http1Response:
        """Send the request; return once the answer's status and headers arrived, or
        raise TimeoutError if they did not within `timeout_s` (connecting included)."""
        origin, path = _split(url)
        head = _head(method, path, origin.authority, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # A kept-alive connection the provider closed is dropped from the pool when its
        # close arrives. One that fails after the request went out is not sent again:
        # the provider may have read it, so the router decides, and audits, what next.
        connection = self._take(origin) or await self._connect(origin, timeout_s)
        try:
            await _wait(connection.exchange(head, body), deadline - loop.time())
        except BaseException:
            connection.close()  # failed or cancelled mid-exchange: its state is unknown
            raise
        return Http1Response(self, origin, connection)

    def release(self, origin: _Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        if self._closed or not connection.reusable or len(idle) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()

    def _take(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        expired = time.monotonic() - self._keepalive
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since > expired:
                return connection
            connection.close()
        return None

    async def _connect(self, origin: _Origin, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        context = self._context() if origin.scheme == "https" else None
        async with asyncio.timeout(min(self._connect_timeout, timeout_s)):
            _, connection = await loop.create_connection(
                _Connection,
                origin.host,
                origin.port,
                ssl=context,
                server_hostname=origin.host if context is not None else None,
            )
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["http/1.1"])
        return self._ssl


async def _wait(future: asyncio.Future[None], timeout_s: float) -> None:
    """Await `future`, failing it with TimeoutError after `timeout_s`.

    A timer on the loop instead of `asyncio.timeout`: 1.6-2.4 against 3.5-4.3 µs under
    uvloop, and each request waits at least once (the answer's head).
    """
    timer = future.get_loop().call_later(timeout_s, _expire, future)
    try:
        await future
    finally:
        timer.cancel()


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _head(
    method: str, path: str, authority: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    lines = _head_lines(method, path, authority, tuple(headers.items()))
    if body is None:
        return lines + b"\r\n"
    return b"%scontent-length: %d\r\n\r\n" % (lines, len(body))


@lru_cache(maxsize=256)
def _head_lines(
    method: str, path: str, authority: str, headers: tuple[tuple[str, str], ...]
) -> bytes:
    """The head's lines up to the body's length, which alone changes from request to
    request: the codecs send the same headers to a provider every time (1.9 against
    0.45 µs a request)."""
    if _UNSAFE.search(path + "".join(name + value for name, value in headers)):
        raise ValueError("a request header holds a line break or NUL")
    lines = [f"{method} {path} HTTP/1.1", f"host: {authority}"]
    if all(name.lower() != "accept-encoding" for name, _ in headers):
        lines.append("accept-encoding: identity")
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")
