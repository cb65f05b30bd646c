"""A small HTTP/1.1 client for the provider hop: keep-alive pool, httptools parser.

Why our own rather than aiohttp: the provider hop is on every request, and aiohttp's
ClientSession spent ~84 µs of CPU per call here against ~23 µs for this client, which
took the sidecar's added p50 at one request in flight from 1.12 to 0.83 ms in the
gateway benchmark (bench/PERF_NOTES.md, "Upstream client"); it was the largest cost
left in the pipeline. The subset needed is small and fixed by our own codecs: one request
at a time per connection with a Content-Length body, answers framed by
Content-Length, chunked encoding or the end of the connection, TLS from the standard
library, no redirects (never followed: base URLs come from config only), no compression
(we ask for identity). httptools (llhttp, the parser behind Node.js) does the parsing;
uvicorn already depends on it.

Egress proxies are part of the same client rather than a second one (aiohttp) for
proxied providers: a deployment behind a corporate proxy sends every request through
it, so its cost per request is the hot path's there too, and one client keeps one set
of limits, timeouts and error kinds (bench/EGRESS_RESULTS.md). An https:// provider is
reached through an HTTP CONNECT tunnel with TLS end to end; an http:// one by sending
the request to the proxy in absolute form.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar, cast
from urllib.parse import urlsplit

import httptools

from policy_engine.routing._egress import EgressTable, Proxy, tls_context

# Buffered answer bytes above which the socket stops being read until the reader
# catches up, and below which it resumes.
_HIGH_WATER = 1 << 20
_LOW_WATER = 1 << 16
# llhttp leaves the size of an answer's head to its user; nginx's default is 8-32 KiB.
_MAX_HEAD = 64 * 1024
_UNSAFE = re.compile(r"[\r\n\0]")


_P = TypeVar("_P", bound=asyncio.Protocol)


class Http1Error(Exception):
    """The provider's bytes are not an HTTP/1.1 answer we can read."""


class Disconnected(ConnectionError):
    """The provider closed the connection before the answer was complete."""


class ConnectTimedOut(TimeoutError):
    """No connection to the provider (its TCP, tunnel and TLS) within the connect timeout."""


class ConnectFailed(ConnectionError):
    """No connection to the provider could be made: refused, unresolvable, a certificate
    that fails verification, or an egress proxy that is down or refuses the tunnel.
    The message names the reason and the hosts, never a credential."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int
    authority: str  # the Host header


@dataclass(frozen=True, slots=True, eq=False)
class _Target:
    """Where a URL's requests go: one per distinct (origin, proxy, TLS context), so the
    pool keys on its identity; connections are never shared across two ways out."""

    origin: _Origin
    proxy: Proxy | None
    tls: ssl.SSLContext | None  # https:// only
    # Sent with each request when an http:// URL goes through the proxy in absolute form.
    proxy_authorization: str | None = field(default=None, repr=False)


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

    def __init__(self, pool: Http1Pool, target: _Target, connection: _Connection) -> None:
        self._pool = pool
        self._target = target
        self._connection = connection
        self.status = connection.status
        self.headers = connection.headers()  # lower-cased names

    async def read(self, timeout_s: float) -> bytes:
        """The next piece of the body (waiting at most `timeout_s`), or b"" at its end."""
        return await self._connection.read(timeout_s)

    def release(self) -> None:
        """Back to the pool if the exchange finished cleanly, else closed."""
        self._pool.release(self._target, self._connection)


# URLs come from config and the codecs (a model name in a path): a handful per provider.
_MAX_TARGETS = 4096


class Http1Pool:
    def __init__(
        self,
        *,
        connect_timeout_s: float,
        keepalive_s: float = 30.0,
        max_idle_per_origin: int = 256,
        egress: EgressTable | None = None,
    ) -> None:
        self._connect_timeout = connect_timeout_s
        self._keepalive = keepalive_s
        self._max_idle = max_idle_per_origin
        self._egress = egress or EgressTable()
        self._system: ssl.SSLContext | None = None
        self._targets: dict[tuple[str | None, str], tuple[_Target, str]] = {}
        self._interned: dict[tuple[_Origin, Proxy | None, ssl.SSLContext | None], _Target] = {}
        self._idle: dict[_Target, list[_Connection]] = {}
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout_s: float,
        provider: str | None = None,
    ) -> Http1Response:
        """Send the request the way `provider`'s egress says; return once the answer's
        status and headers arrived, or raise TimeoutError if they did not within
        `timeout_s` (connecting included)."""
        target, path = self._targets.get((provider, url)) or self._resolve(provider, url)
        head = _head(method, path, target.origin.authority, headers, body, target)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        # A kept-alive connection the provider closed is dropped from the pool when its
        # close arrives. One that fails after the request went out is not sent again:
        # the provider may have read it, so the router decides, and audits, what next.
        connection = self._take(target) or await self._connect(target, timeout_s)
        try:
            await _wait(connection.exchange(head, body), deadline - loop.time())
        except BaseException:
            connection.close()  # failed or cancelled mid-exchange: its state is unknown
            raise
        if target.proxy is not None and connection.status == 407:
            # Only a proxy answers 407: the request went no further than the proxy.
            connection.close()
            raise ConnectFailed(f"the egress proxy {target.proxy.label} wants credentials (407)")
        return Http1Response(self, target, connection)

    def release(self, target: _Target, connection: _Connection) -> None:
        idle = self._idle.setdefault(target, [])
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

    def _resolve(self, provider: str | None, url: str) -> tuple[_Target, str]:
        origin, path = _split(url)
        egress = self._egress.of(provider)
        proxy = egress.proxy_for(origin.scheme, origin.host, origin.port)
        tls = None
        if origin.scheme == "https":
            tls = egress.tls or self._system_tls()
        key = (origin, proxy, tls)
        target = self._interned.get(key)
        if target is None:
            plain_proxy = proxy is not None and tls is None
            authorization = proxy.authorization if plain_proxy and proxy else None
            target = self._interned[key] = _Target(origin, proxy, tls, authorization)
        if proxy is not None and tls is None:
            path = f"http://{origin.authority}{path}"  # the absolute form a proxy expects
        if len(self._targets) >= _MAX_TARGETS:
            self._targets.clear()
        self._targets[(provider, url)] = (target, path)
        return target, path

    def _system_tls(self) -> ssl.SSLContext:
        # Loading the system's CAs takes a while: not at startup, and not for http:// alone.
        if self._system is None:
            self._system = tls_context()
        return self._system

    def _take(self, target: _Target) -> _Connection | None:
        idle = self._idle.get(target)
        expired = time.monotonic() - self._keepalive
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since > expired:
                return connection
            connection.close()
        return None

    async def _connect(self, target: _Target, timeout_s: float) -> _Connection:
        loop = asyncio.get_running_loop()
        origin, proxy, tls = target.origin, target.proxy, target.tls
        host, port = (origin.host, origin.port) if proxy is None else (proxy.host, proxy.port)
        limit = min(self._connect_timeout, timeout_s)
        try:
            async with asyncio.timeout(limit):
                if tls is None:
                    return await _open(loop, _Connection, host, port, proxy)
                # TCP (and the tunnel) first, then TLS over it, so that a failure says
                # which step failed: unreachable, refused by the proxy, or a certificate.
                request = None if proxy is None else _connect_request(origin, proxy)
                opening = await _open(loop, lambda: _Opening(request, proxy), host, port, proxy)
                return await opening.secure(loop, origin, tls)
        except TimeoutError:
            via = f" through the egress proxy {proxy.label}" if proxy else ""
            raise ConnectTimedOut(
                f"connecting to {origin.host}:{origin.port}{via} took over {limit:.3g} s"
            ) from None


async def _open(
    loop: asyncio.AbstractEventLoop,
    factory: Callable[[], _P],
    host: str,
    port: int,
    proxy: Proxy | None,
) -> _P:
    try:
        _, protocol = await loop.create_connection(factory, host, port)
    except (TimeoutError, ConnectFailed):
        raise
    except OSError as error:
        where = f"the egress proxy {proxy.label}" if proxy else f"{host}:{port}"
        raise ConnectFailed(f"{where} could not be reached ({_why(error)})") from None
    return protocol


def _why(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _connect_request(origin: _Origin, proxy: Proxy) -> bytes:
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    authority = f"{host}:{origin.port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"proxy-authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3})[ \r]")


class _Opening(asyncio.Protocol):
    """A TCP connection on its way to TLS: to the provider, or to a proxy asked for a
    tunnel (CONNECT) whose answer this reads."""

    def __init__(self, request: bytes | None, proxy: Proxy | None) -> None:
        self._established: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._request = request
        self._proxy = proxy
        self._head = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        if self._request is None:
            self._established.set_result(None)
        else:
            self._transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        if self._established.done():
            # TLS is being set up; a provider speaks only when asked.
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > _MAX_HEAD:
                self._fail("sent an answer head over 64 KiB")
            return
        match = _STATUS.match(self._head)
        status = int(match[1]) if match else 0
        target = self._request.split(b" ", 2)[1].decode() if self._request else ""
        if not status:
            self._fail("did not answer in HTTP")
        elif status == 407:
            self._fail(f"wants credentials for the tunnel to {target} (407)")
        elif not 200 <= status < 300:
            self._fail(f"refused the tunnel to {target} ({status})")
        elif end + 4 != len(self._head):
            self._fail("sent bytes after its answer, before TLS")
        else:
            self._established.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("closed the connection before the tunnel was open")

    def _fail(self, what: str) -> None:
        if not self._established.done():
            label = self._proxy.label if self._proxy else "?"
            self._established.set_exception(ConnectFailed(f"the egress proxy {label} {what}"))

    async def secure(
        self, loop: asyncio.AbstractEventLoop, origin: _Origin, tls: ssl.SSLContext
    ) -> _Connection:
        """Once the tunnel is open (at once without a proxy): TLS with the provider, then
        the connection that carries requests."""
        assert self._transport is not None
        raw = self._transport
        via = f" through the egress proxy {self._proxy.label}" if self._proxy else ""
        try:
            await self._established
            secure = await loop.start_tls(raw, self, tls, server_hostname=origin.host)
        except (TimeoutError, ConnectFailed):
            raw.close()
            raise
        except ssl.SSLCertVerificationError as error:
            raw.close()
            raise ConnectFailed(
                f"the certificate of {origin.host} failed verification: {error.verify_message}"
            ) from None
        except (ssl.SSLError, OSError) as error:
            raw.close()
            why = error.reason if isinstance(error, ssl.SSLError) else None
            raise ConnectFailed(
                f"the TLS handshake with {origin.host}{via} failed ({why or _why(error)})"
            ) from None
        except BaseException:
            raw.close()
            raise
        if secure is None:  # the loop's contract allows it: the connection closed meanwhile
            raise ConnectFailed(f"the TLS handshake with {origin.host}{via} failed (closed)")
        connection = _Connection()
        secure.set_protocol(connection)
        connection.connection_made(secure)
        return connection


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
    method: str,
    path: str,
    authority: str,
    headers: Mapping[str, str],
    body: bytes | None,
    target: _Target,
) -> bytes:
    lines = _head_lines(method, path, authority, tuple(headers.items()), target.proxy_authorization)
    if body is None:
        return lines + b"\r\n"
    return b"%scontent-length: %d\r\n\r\n" % (lines, len(body))


@lru_cache(maxsize=256)
def _head_lines(
    method: str,
    path: str,
    authority: str,
    headers: tuple[tuple[str, str], ...],
    proxy_authorization: str | None = None,
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
    if proxy_authorization is not None:
        lines.append(f"proxy-authorization: {proxy_authorization}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")
