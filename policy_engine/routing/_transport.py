"""The only place that talks HTTP to providers, and the only place aiohttp errors are translated.

aiohttp is the upstream client because it measured ~10x faster than httpx's own pool
under load here (see the performance issue); one pooled session serves all providers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
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

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._content.iter_any():
                self._seen += len(chunk)
                if self._seen > self._limit:
                    raise ProviderError(
                        ProviderErrorKind.MALFORMED_RESPONSE, "answer exceeds the size limit"
                    )
                yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise translate_error(error, mid_body=True) from None

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


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

    @asynccontextmanager
    async def open(self, request: HttpRequest) -> AsyncIterator[UpstreamStream]:
        """Send the request; yield once the status and headers arrived (time to first byte)."""
        try:
            async with asyncio.timeout(self._first_byte_timeout + self._connect_timeout):
                response = await self._client().request(
                    request.method,
                    request.url,
                    data=request.body,
                    headers=dict(request.headers),
                    allow_redirects=False,  # a provider must not send our request elsewhere
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise translate_error(error) from None
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            yield UpstreamStream(
                response.status, headers, response.content, self._max_response_bytes
            )
        finally:
            response.release()

    async def send(self, request: HttpRequest) -> UpstreamResponse:
        async with self.open(request) as stream:
            body = await stream.read_all()
            return UpstreamResponse(stream.status, stream.headers, body)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
