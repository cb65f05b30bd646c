"""The only place that talks HTTP to providers, and the only place aiohttp errors are translated.

aiohttp is the upstream client because it measured ~10x faster than httpx's own pool
under load here (see the performance issue); one pooled session serves all providers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from adapters import HttpRequest, ProviderError, ProviderErrorKind


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(slots=True)
class UpstreamStream:
    status: int
    headers: dict[str, str]
    _content: aiohttp.StreamReader
    _limit: int
    _seen: int = 0

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        try:
            async for chunk in self._content.iter_any():
                self._seen = _counted(self._seen + len(chunk), self._limit)
                yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise translate_error(error, mid_body=True) from None

    async def read_all(self) -> bytes:
        return await _read_bounded(self._content, self._limit - self._seen)


def _counted(seen: int, limit: int) -> int:
    if seen > limit:
        raise ProviderError(ProviderErrorKind.MALFORMED_RESPONSE, "answer exceeds the size limit")
    return seen


async def _read_bounded(content: aiohttp.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    seen = 0
    try:
        while chunk := await content.readany():
            seen = _counted(seen + len(chunk), limit)
            chunks.append(chunk)
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise translate_error(error, mid_body=True) from None
    return b"".join(chunks)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def translate_error(error: BaseException, *, mid_body: bool = False) -> ProviderError:
    """Map a transport exception to the provider error kinds the router acts on."""
    if isinstance(error, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return ProviderError(ProviderErrorKind.TIMEOUT, "the provider did not answer in time")
    if isinstance(error, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError) and mid_body:
        return ProviderError(
            ProviderErrorKind.STREAM_INTERRUPTED, "the provider closed the connection mid-answer"
        )
    if isinstance(error, aiohttp.InvalidURL):
        return ProviderError(ProviderErrorKind.CONNECTION, "invalid provider URL")
    if isinstance(error, aiohttp.ClientResponseError):
        return ProviderError(
            ProviderErrorKind.MALFORMED_RESPONSE, "the provider sent an invalid HTTP response"
        )
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
        pool_size: int = 256,
    ) -> None:
        self._connect_timeout = connect_timeout_s
        self._first_byte_timeout = first_byte_timeout_s
        self._max_response_bytes = max_response_bytes
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=self._connect_timeout,
                    # Between two reads of the body: a stalled stream times out here.
                    sock_read=self._first_byte_timeout,
                ),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def _response(self, request: HttpRequest) -> aiohttp.ClientResponse:
        """Send the request; return once the status and headers arrived (time to first byte)."""
        try:
            async with asyncio.timeout(self._first_byte_timeout + self._connect_timeout):
                return await self._client().request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=request.headers,
                    allow_redirects=False,  # a provider must not send our request elsewhere
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise translate_error(error) from None

    @asynccontextmanager
    async def open(self, request: HttpRequest) -> AsyncIterator[UpstreamStream]:
        """A streamed answer, read chunk by chunk inside the context."""
        response = await self._response(request)
        try:
            yield UpstreamStream(
                response.status,
                _lower(response.headers),
                response.content,
                self._max_response_bytes,
            )
        finally:
            response.release()

    async def send(self, request: HttpRequest) -> UpstreamResponse:
        """The whole answer at once (the non-streamed path: no per-chunk generator)."""
        response = await self._response(request)
        try:
            body = await _read_bounded(response.content, self._max_response_bytes)
            return UpstreamResponse(response.status, _lower(response.headers), body)
        finally:
            response.release()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
