"""The upstream client's egress: CONNECT tunnels and absolute-form requests through an HTTP
proxy, TLS end to end, and connections that fail (hostile or absent proxies, certificates
that fail verification) as connection failures that name the reason.

The proxy here is a small one written for these tests, so that it can misbehave byte by
byte; tests/egress/ runs the same paths through a real squid and nginx. It reaches the
made-up host `provider.test` on loopback, a name nothing else resolves: an answer from
there came through the proxy.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop
from structlog.testing import capture_logs

from adapters import HttpRequest, ProviderError, ProviderErrorKind
from policy_engine.routing import Egress, EgressTable, NoProxy, Proxy, UpstreamTransport
from policy_engine.routing._egress import tls_context
from tests.pki import CertificateAuthority, Issued
from tests.routing.test_transport import OK, answering, raw_server, read_request

PROVIDER = "provider.test"
SECRET = "Basic cHJveHktdXNlcjpwcm94eS1zZWNyZXQ="  # proxy-user:proxy-secret


@dataclass
class ProxyLog:
    port: int
    heads: list[bytes] = field(default_factory=list)

    @property
    def proxy(self) -> Proxy:
        return Proxy("127.0.0.1", self.port, SECRET)


ProxyHandler = Callable[[bytes, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def tunnelling(
    head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """A well-behaved proxy: CONNECT to provider.test opens a tunnel to loopback."""
    target = head.split(b" ")[1].decode()
    host, _, port = target.rpartition(":")
    if host != PROVIDER:
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
        return
    upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", int(port))
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


def answering_with(answer: bytes, *, hold: bool = False) -> ProxyHandler:
    """A proxy that answers every request with `answer` (then holds the connection open)."""

    async def handler(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        writer.write(answer)
        await writer.drain()
        if hold:
            await reader.read()

    return handler


@asynccontextmanager
async def http_proxy(handler: ProxyHandler = tunnelling) -> AsyncIterator[ProxyLog]:
    log = ProxyLog(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await read_request(reader)
            log.heads.append(head)
            await handler(head, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    log.port = server.sockets[0].getsockname()[1]
    try:
        yield log
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Issued | Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory, "trusted")
    other = CertificateAuthority(directory, "other")
    return {
        "bundle": ca.bundle,
        "good": ca.issue("good", [PROVIDER, "localhost", "127.0.0.1"]),
        "expired": ca.issue("expired", [PROVIDER, "localhost"], expired=True),
        "other-host": ca.issue("other-host", ["elsewhere.test"]),
        "other-ca": other.issue("other-ca", [PROVIDER, "localhost"]),
    }


def issued(pki: dict[str, Issued | Path], name: str) -> Issued:
    value = pki[name]
    assert isinstance(value, Issued)
    return value


def bundle(pki: dict[str, Issued | Path]) -> Path:
    value = pki["bundle"]
    assert isinstance(value, Path)
    return value


def client(egress: Egress) -> UpstreamTransport:
    return UpstreamTransport(
        connect_timeout_s=2, first_byte_timeout_s=2, egress=EgressTable(egress, {"p": egress})
    )


def post(url: str) -> HttpRequest:
    return HttpRequest("POST", f"{url}/v1/chat", {"authorization": "Bearer k"}, b'{"q": 1}')


def provider_url(base: str, scheme: str = "https") -> str:
    return f"{scheme}://{PROVIDER}:{base.rsplit(':', 1)[1]}"


async def test_an_https_provider_is_reached_through_a_connect_tunnel(
    pki: dict[str, Issued | Path],
) -> None:
    seen: list[bytes] = []

    async def provider(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            seen.append(await read_request(reader))
            writer.write(OK)
            await writer.drain()
        await reader.read()

    context = issued(pki, "good").server_context()
    async with raw_server(provider, context) as (url, connections), http_proxy() as proxy:
        transport = client(Egress(tls_context(bundle(pki)), https_proxy=proxy.proxy))
        first = await transport.send(post(provider_url(url)), provider="p")
        second = await transport.send(post(provider_url(url)), provider="p")
        await transport.close()
    assert (first.body, second.body) == (b"{}", b"{}")
    port = url.rsplit(":", 1)[1]
    assert [head.split(b"\r\n")[0] for head in proxy.heads] == [
        f"CONNECT {PROVIDER}:{port} HTTP/1.1".encode()
    ]  # one tunnel, kept alive for the second request
    assert f"proxy-authorization: {SECRET}".encode() in proxy.heads[0]
    assert len(connections) == 1
    assert all(b"proxy-authorization" not in request.lower() for request in seen)
    assert seen[0].startswith(b"POST /v1/chat HTTP/1.1\r\n")


async def test_an_http_provider_is_asked_through_the_proxy_in_absolute_form() -> None:
    async with http_proxy(answering_with(OK, hold=True)) as proxy:
        transport = client(Egress(http_proxy=proxy.proxy))
        answer = await transport.send(post(f"http://{PROVIDER}:8000"), provider="p")
        await transport.close()
    assert answer.body == b"{}"
    lines = proxy.heads[0].split(b"\r\n")
    assert lines[0] == f"POST http://{PROVIDER}:8000/v1/chat HTTP/1.1".encode()
    assert f"host: {PROVIDER}:8000".encode() in lines
    assert f"proxy-authorization: {SECRET}".encode() in lines


async def test_a_provider_the_bypass_list_names_is_reached_directly() -> None:
    async with raw_server(answering(OK)) as (url, connections), http_proxy() as proxy:
        egress = Egress(http_proxy=proxy.proxy, bypass=NoProxy.parse(["localhost"]))
        transport = client(egress)
        answer = await transport.send(post(url), provider="p")
        await transport.close()
    assert answer.body == b"{}"
    assert proxy.heads == []
    assert len(connections) == 1


async def test_a_proxy_for_one_provider_is_not_used_for_another() -> None:
    async with raw_server(answering(OK)) as (url, _), http_proxy() as proxy:
        proxied = Egress(http_proxy=proxy.proxy)
        transport = UpstreamTransport(
            connect_timeout_s=2,
            first_byte_timeout_s=2,
            egress=EgressTable(Egress(), {"proxied": proxied, "direct": Egress()}),
        )
        answer = await transport.send(post(url), provider="direct")
        await transport.close()
    assert answer.body == b"{}"
    assert proxy.heads == []


HOSTILE_PROXIES = {
    "refuses": (
        answering_with(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"),
        "refused the tunnel",
    ),
    "wants-credentials": (
        answering_with(b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n"),
        "wants credentials",
    ),
    "upstream-unreachable": (answering_with(b"HTTP/1.1 502 Bad Gateway\r\n\r\n"), "(502)"),
    "not-http": (answering_with(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"), "did not answer in HTTP"),
    "bytes-after-its-answer": (
        answering_with(b"HTTP/1.1 200 OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", hold=True),
        "sent bytes after its answer",
    ),
    "endless-head": (
        answering_with(b"HTTP/1.1 200 OK\r\n" + b"x-filler: " + b"a" * 70_000, hold=True),
        "over 64 KiB",
    ),
    "closes-without-answer": (answering_with(b""), "closed the connection"),
}


@pytest.mark.parametrize("name", list(HOSTILE_PROXIES))
async def test_a_proxy_that_will_not_tunnel_is_a_connection_failure_naming_it(name: str) -> None:
    handler, reason = HOSTILE_PROXIES[name]
    async with raw_server(answering(OK)) as (url, connections), http_proxy(handler) as proxy:
        transport = client(Egress(https_proxy=proxy.proxy))
        with capture_logs() as logs, pytest.raises(ProviderError) as caught:
            await transport.send(post(provider_url(url)), provider="p")
        await transport.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION
    assert caught.value.retryable
    assert f"the egress proxy 127.0.0.1:{proxy.port}" in caught.value.message
    assert reason in caught.value.message
    assert connections == []  # nothing reached the provider
    [line] = [entry for entry in logs if entry["event"] == "upstream_connect_failed"]
    assert line["provider"] == "p"
    assert reason in line["reason"]
    assert "cHJveHk" not in repr(logs)  # the credentials, in any form


async def test_a_proxy_that_never_answers_is_a_timeout_naming_it() -> None:
    async def silent(
        head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.read()

    async with http_proxy(silent) as proxy:
        transport = UpstreamTransport(
            connect_timeout_s=0.3,
            first_byte_timeout_s=2,
            egress=EgressTable(Egress(), {"p": Egress(https_proxy=proxy.proxy)}),
        )
        with capture_logs() as logs, pytest.raises(ProviderError) as caught:
            await transport.send(post(f"https://{PROVIDER}"), provider="p")
        await transport.close()
    assert caught.value.kind is ProviderErrorKind.TIMEOUT
    [line] = [entry for entry in logs if entry["event"] == "upstream_connect_failed"]
    assert line["reason"] == (
        f"connecting to {PROVIDER}:443 through the egress proxy 127.0.0.1:{proxy.port} "
        "took over 0.3 s"
    )


async def test_a_proxy_that_is_down_is_a_connection_failure_naming_it() -> None:
    transport = client(Egress(https_proxy=Proxy("127.0.0.1", 1, SECRET)))
    with pytest.raises(ProviderError) as caught:
        await transport.send(post(f"https://{PROVIDER}"), provider="p")
    await transport.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION
    assert "the egress proxy 127.0.0.1:1 could not be reached" in caught.value.message


async def test_a_407_from_a_proxy_forwarding_plain_http_is_not_the_providers_answer() -> None:
    # Only a proxy answers 407: passed on as the provider's 4xx it would blame the request.
    denied = b"HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n"
    async with http_proxy(answering_with(denied, hold=True)) as proxy:
        transport = client(Egress(http_proxy=proxy.proxy))
        with pytest.raises(ProviderError) as caught:
            await transport.send(post(f"http://{PROVIDER}:8000"), provider="p")
        await transport.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION
    assert "wants credentials (407)" in caught.value.message


CERTIFICATE_FAILURES = {
    "expired": ("expired", "certificate has expired"),
    "wrong-host-name": ("other-host", "Hostname mismatch"),
    "unknown-ca": ("other-ca", "unable to get local issuer certificate"),
}


@pytest.mark.parametrize("through_proxy", [False, True], ids=["direct", "tunnelled"])
@pytest.mark.parametrize("name", list(CERTIFICATE_FAILURES))
async def test_a_certificate_that_fails_verification_is_a_connection_failure_naming_why(
    pki: dict[str, Issued | Path], name: str, through_proxy: bool
) -> None:
    label, reason = CERTIFICATE_FAILURES[name]
    seen: list[bytes] = []

    async def provider(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read(1))

    context = issued(pki, label).server_context()
    async with raw_server(provider, context) as (url, _), http_proxy() as proxy:
        tls = tls_context(bundle(pki))
        egress = Egress(tls, https_proxy=proxy.proxy) if through_proxy else Egress(tls)
        target = provider_url(url) if through_proxy else url
        transport = client(egress)
        with capture_logs() as logs, pytest.raises(ProviderError) as caught:
            await transport.send(post(target), provider="p")
        await transport.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION
    assert "failed verification" in caught.value.message
    assert reason in caught.value.message
    assert not any(seen)  # not one byte of the request went out
    assert any(reason in entry.get("reason", "") for entry in logs)


async def test_the_client_sends_sni_offers_http1_only_and_speaks_tls_12_or_later(
    pki: dict[str, Issued | Path],
) -> None:
    handshakes: list[tuple[str | None, str | None]] = []
    names: list[str | None] = []
    context = issued(pki, "good").server_context()
    context.set_alpn_protocols(["h2", "http/1.1"])
    context.sni_callback = lambda _socket, name, _context: names.append(name)  # type: ignore[assignment,func-returns-value]

    async def provider(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = writer.get_extra_info("ssl_object")
        handshakes.append((tls.selected_alpn_protocol(), tls.version()))
        await answering(OK)(reader, writer)

    async with raw_server(provider, context) as (url, _):
        transport = client(Egress(tls_context(bundle(pki))))
        await transport.send(post(url), provider="p")
        await transport.close()
    assert names == ["localhost"]
    [(alpn, version)] = handshakes
    assert alpn == "http/1.1"
    assert version in ("TLSv1.2", "TLSv1.3")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
async def test_a_provider_offering_only_tls_11_is_refused(pki: dict[str, Issued | Path]) -> None:
    context = issued(pki, "good").server_context()
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("ALL:@SECLEVEL=0")
    async with raw_server(answering(OK), context) as (url, _):
        transport = client(Egress(tls_context(bundle(pki))))
        with pytest.raises(ProviderError) as caught:
            await transport.send(post(url), provider="p")
        await transport.close()
    assert caught.value.kind is ProviderErrorKind.CONNECTION
    assert "the TLS handshake with localhost failed" in caught.value.message


def test_a_tunnel_works_on_uvloop_the_loop_the_sidecar_serves_on(
    pki: dict[str, Issued | Path],
) -> None:
    async def scenario() -> list[bytes]:
        context = issued(pki, "good").server_context()
        async with raw_server(answering(OK, OK, OK), context) as (url, _), http_proxy() as proxy:
            transport = client(Egress(tls_context(bundle(pki)), https_proxy=proxy.proxy))
            bodies = [(await transport.send(post(provider_url(url)), provider="p")).body]
            bodies.append((await transport.send(post(provider_url(url)), provider="p")).body)
            async with transport.open(post(provider_url(url)), provider="p") as stream:
                bodies.append(b"".join([chunk async for chunk in stream.chunks()]))
            await transport.close()
            return bodies

    assert uvloop.run(scenario()) == [b"{}", b"{}", b"{}"]


def test_a_certificate_failure_through_a_tunnel_is_named_on_uvloop_too(
    pki: dict[str, Issued | Path],
) -> None:
    async def scenario() -> str:
        context = issued(pki, "expired").server_context()
        async with raw_server(answering(OK), context) as (url, _), http_proxy() as proxy:
            transport = client(Egress(tls_context(bundle(pki)), https_proxy=proxy.proxy))
            try:
                await transport.send(post(provider_url(url)), provider="p")
            except ProviderError as error:
                return error.message
            finally:
                await transport.close()
        return "answered"

    assert "certificate has expired" in uvloop.run(scenario())
