"""The provider transport: our HTTP/1.1 client against raw sockets, and error translation.

The servers here write exact bytes (keep-alive, chunks, bodies ended by the connection,
interim answers, broken answers, TLS), which a framework would normalise away.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from adapters import HttpRequest, ProviderError, ProviderErrorKind
from policy_engine.routing import UpstreamTransport, translate_error
from policy_engine.routing._http1 import Disconnected, Http1Error

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


@asynccontextmanager
async def raw_server(
    handler: Handler, context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[str, list[int]]]:
    """A server that runs `handler` per connection; yields its base URL and a
    connection counter."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        except (asyncio.CancelledError, ConnectionError):
            pass  # the test is over, or the client left: nothing to answer
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    scheme = "https" if context else "http"
    try:
        yield f"{scheme}://localhost:{port}", connections
    finally:
        server.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def answering(*answers: bytes, then_close: bool = False) -> Handler:
    """Answer each request on a connection with the next of `answers`."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            try:
                await read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(answer)
            await writer.drain()
        if not then_close:
            await reader.read()  # hold the connection until the client goes

    return handler


def post(url: str, headers: dict[str, str] | None = None) -> HttpRequest:
    return HttpRequest("POST", f"{url}/v1/chat", headers or {"x-test": "1"}, b'{"q": 1}')


def transport(context: ssl.SSLContext | None = None) -> UpstreamTransport:
    return UpstreamTransport(connect_timeout_s=2, first_byte_timeout_s=2, ssl_context=context)


async def test_a_kept_alive_connection_serves_the_next_request() -> None:
    async with raw_server(answering(OK, OK)) as (url, connections):
        client = transport()
        first = await client.send(post(url))
        second = await client.send(post(url))
        await client.close()
    assert (first.status, first.body, second.body) == (200, b"{}", b"{}")
    assert len(connections) == 1


async def test_the_request_carries_host_length_and_asks_for_no_compression() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        writer.write(OK)
        await writer.drain()

    async with raw_server(handler) as (url, _):
        client = transport()
        await client.send(post(url, {"authorization": "Bearer k"}))
        await client.close()
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/chat HTTP/1.1"
    assert {"host: " + url.removeprefix("http://"), "content-length: 8"} <= set(lines)
    assert {"accept-encoding: identity", "authorization: Bearer k"} <= set(lines)
    assert body == b'{"q": 1}'


async def test_a_connection_the_provider_closed_while_idle_is_not_reused() -> None:
    async with raw_server(answering(OK, then_close=True)) as (url, connections):
        client = transport()
        await client.send(post(url))
        await asyncio.sleep(0.05)  # the server has closed the kept-alive connection
        again = await client.send(post(url))
        await client.close()
    assert again.body == b"{}"
    assert len(connections) == 2


async def test_an_answer_told_to_close_is_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}"
    async with raw_server(answering(closing)) as (url, connections):
        client = transport()
        await client.send(post(url))
        await client.send(post(url))
        await client.close()
    assert len(connections) == 2


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", b"{}"),
        (
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
            b"4\r\ndata\r\n5\r\n: x\n\n\r\n0\r\n\r\n",
            b"data: x\n\n",
        ),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, b"{}"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
    ],
    ids=["chunked", "chunks-joined", "interim-answer-first", "no-content"],
)
async def test_answer_framings_are_read_whole(answer: bytes, body: bytes) -> None:
    async with raw_server(answering(answer, answer)) as (url, connections):
        client = transport()
        first = await client.send(post(url))
        second = await client.send(post(url))
        await client.close()
    assert (first.body, second.body) == (body, body)
    assert len(connections) == 1


async def test_a_body_without_length_or_chunks_ends_with_the_connection() -> None:
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: 1\n\n"
    async with raw_server(answering(answer, then_close=True)) as (url, _):
        client = transport()
        response = await client.send(post(url))
        await client.close()
    assert response.body == b"data: 1\n\n"


async def test_a_large_body_arrives_intact_through_flow_control() -> None:
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB: past the read pause threshold
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(payload) + payload
    async with raw_server(answering(answer)) as (url, _):
        client = transport()
        request = post(url)
        async with client.open(request) as stream:
            pieces = []
            async for chunk in stream.chunks():
                pieces.append(chunk)
                await asyncio.sleep(0)  # a slow reader
        await client.close()
    assert b"".join(pieces) == payload


async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
    await writer.drain()
    await asyncio.sleep(5)


# 100 KiB of headers and no end to them: refused once past 64 KiB, not waited for.
ENDLESS_HEAD = b"HTTP/1.1 200 OK\r\n" + (b"x-filler: " + b"a" * 1000 + b"\r\n") * 100


@pytest.mark.parametrize(
    ("handler", "limit", "kind"),
    [
        (
            answering(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 100),
            50,
            ProviderErrorKind.MALFORMED_RESPONSE,
        ),
        (answering(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), None, ProviderErrorKind.MALFORMED_RESPONSE),
        (answering(ENDLESS_HEAD), None, ProviderErrorKind.MALFORMED_RESPONSE),
        (
            answering(
                b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" + b"x" * 10, then_close=True
            ),
            None,
            ProviderErrorKind.STREAM_INTERRUPTED,
        ),
        (answering(b"", then_close=True), None, ProviderErrorKind.CONNECTION),
        (stall, None, ProviderErrorKind.TIMEOUT),
    ],
    ids=[
        "over-the-size-limit",
        "not-http",
        "endless-head",
        "cut-mid-body",
        "closed-before-any-answer",
        "stalled-body",
    ],
)
async def test_a_failed_exchange_is_the_provider_error_the_router_acts_on(
    handler: Handler, limit: int | None, kind: ProviderErrorKind
) -> None:
    async with raw_server(handler) as (url, _):
        client = UpstreamTransport(
            connect_timeout_s=1,
            first_byte_timeout_s=0.3,
            max_response_bytes=limit or 32 * 1024 * 1024,
        )
        with pytest.raises(ProviderError) as caught:
            await client.send(post(url))
        await client.close()
    assert caught.value.kind is kind


async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A head at once, then one body byte every 50 ms: each read is quick, the whole is not."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
    for _ in range(100):
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"x")


async def no_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    await asyncio.sleep(5)


@pytest.mark.parametrize("handler", [trickle, no_head], ids=["trickling-body", "no-head"])
async def test_the_attempt_budget_bounds_the_whole_exchange(handler: Handler) -> None:
    async with raw_server(handler) as (url, _):
        client = transport()  # its own limits are 2 s per wait
        started = asyncio.get_running_loop().time()
        with pytest.raises(ProviderError) as caught:
            await client.send(post(url), budget_s=0.3)
        elapsed = asyncio.get_running_loop().time() - started
        await client.close()
    assert caught.value.kind is ProviderErrorKind.TIMEOUT
    assert 0.3 <= elapsed < 1.5


async def test_a_refused_connection_is_a_connection_error() -> None:
    client = transport()
    with pytest.raises(ProviderError) as caught:
        await client.send(post("http://127.0.0.1:1"))
    await client.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION


@pytest.mark.parametrize(
    "headers",
    [{"x-evil": "a\r\nx-injected: 1"}, {"x-evil\r\nx-injected": "1"}, {"x-nul": "a\0b"}],
)
async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(
    headers: dict[str, str],
) -> None:
    async with raw_server(answering(OK)) as (url, connections):
        client = transport()
        with pytest.raises(ProviderError) as caught:
            await client.send(post(url, headers))
        await client.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION
    assert connections == []


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context for "localhost" and a client context that trusts it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


async def test_https_verifies_the_provider_certificate(tmp_path: Path) -> None:
    server_context, trusting = _self_signed(tmp_path)
    async with raw_server(answering(OK, OK), server_context) as (url, _):
        client = transport(trusting)
        answer = await client.send(post(url))
        again = await client.send(post(url))
        await client.close()
        untrusting = transport()  # the system's CAs: the self-signed certificate fails
        with pytest.raises(ProviderError) as caught:
            await untrusting.send(post(url))
        await untrusting.close()
    assert (answer.body, again.body) == (b"{}", b"{}")
    assert caught.value.kind is ProviderErrorKind.CONNECTION


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError(), ProviderErrorKind.TIMEOUT),
        (Disconnected("x"), ProviderErrorKind.CONNECTION),
        (Http1Error("x"), ProviderErrorKind.MALFORMED_RESPONSE),
        (ConnectionRefusedError(), ProviderErrorKind.CONNECTION),
        (ConnectionResetError(), ProviderErrorKind.CONNECTION),
        (ssl.SSLCertVerificationError(), ProviderErrorKind.CONNECTION),
        (OSError(), ProviderErrorKind.CONNECTION),
        (ValueError("invalid provider URL"), ProviderErrorKind.CONNECTION),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
@pytest.mark.parametrize("mid_body", [False, True])
def test_every_transport_error_is_a_retryable_failure(
    error: BaseException, kind: ProviderErrorKind, mid_body: bool
) -> None:
    # A transport failure says nothing about the request, so it must lead to a retry or
    # fallback, never be returned to the client as if the request were at fault.
    translated = translate_error(error, mid_body=mid_body)
    assert translated.retryable
    if isinstance(error, Disconnected) and mid_body:
        assert translated.kind is ProviderErrorKind.STREAM_INTERRUPTED
    else:
        assert translated.kind is kind
