"""A fake LLM provider: one aiohttp server on loopback speaking one provider's wire format.

Written from the providers' public docs and sharing no code with `adapters`, so the
codec tests catch a codec that misreads the wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes._anthropic import AnthropicDialect
from tests.fakes._aws import SigV4Door
from tests.fakes._bedrock import BedrockDialect
from tests.fakes._behaviours import (
    Behaviour,
    ConnectionReset,
    ContentFilter,
    ErrorUnder200,
    InvalidRequest,
    MalformedJSON,
    MalformedSSE,
    Ok,
    Overloaded,
    Oversized,
    RateLimited,
    ServerError,
    SlowFirstByte,
    StallStream,
    StreamCut,
    Unauthorized,
    Unavailable,
    WrongContentType,
)
from tests.fakes._dialect import Dialect, Reply
from tests.fakes._embeddings import (
    DEFAULT_DIMENSIONS,
    EMBEDDING_DIALECTS,
    BadVectors,
    EmbeddingDialect,
    fake_tokens,
    fake_vector,
)
from tests.fakes._gemini import GeminiDialect
from tests.fakes._google import TOKEN_PATH, BearerDoor
from tests.fakes._json_mode import json_instance
from tests.fakes._openai import AzureOpenAIDialect, OpenAIDialect
from tests.fakes._vertex import VertexDialect

Protocol = Literal["openai", "azure_openai", "anthropic", "gemini", "bedrock", "vertex"]
_DIALECTS: dict[str, type[Dialect]] = {
    "openai": OpenAIDialect,
    "azure_openai": AzureOpenAIDialect,
    "anthropic": AnthropicDialect,
    "gemini": GeminiDialect,
    "bedrock": BedrockDialect,
    "vertex": VertexDialect,
}
# The regions (and Google project) the cloud fakes serve unless told otherwise.
DEFAULT_REGIONS = {"bedrock": "eu-central-1", "vertex": "europe-west1"}
DEFAULT_PROJECT = "test-project"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any  # None when the body is not JSON
    raw_path: str = ""  # as sent: percent-encoding kept, with the query


class FakeProvider:
    def __init__(
        self,
        protocol: Protocol,
        *,
        name: str = "fake",
        reply: str | None = None,
        api_key: str = "test-key",
        port: int = 0,
        region: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> None:
        self.protocol = protocol
        self.name = name
        self.api_key = api_key
        self.received: list[Received] = []
        self._reply = reply
        self.region = region or DEFAULT_REGIONS.get(protocol, "")
        self.project = project
        self._dialect: Dialect = (
            VertexDialect(project, self.region) if protocol == "vertex" else _DIALECTS[protocol]()
        )
        # The cloud fakes check credentials as their clouds do: a SigV4 signature (AWS),
        # a bearer token from their own token endpoint (Google); the others, a key.
        self.aws = SigV4Door(self.region) if protocol == "bedrock" else None
        self.google = BearerDoor(project) if protocol == "vertex" else None
        # Vertex: a service-account key whose tokens come from this fake (made at start).
        self.credentials_file: Path | None = None
        self._key_dir: tempfile.TemporaryDirectory[str] | None = None
        embeddings = EMBEDDING_DIALECTS.get(protocol)
        self._embeddings: EmbeddingDialect | None = embeddings() if embeddings else None
        self._embedding_script: deque[Behaviour | BadVectors] = deque()
        self.dimensions = DEFAULT_DIMENSIONS  # of its embedding models' vectors
        self._script: deque[Behaviour] = deque()
        self._always: Behaviour | None = None
        self._runner: web.AppRunner | None = None
        self._port = port

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("FakeProvider not started")
        root = f"http://127.0.0.1:{self._port}"
        return f"{root}/v1" if self.protocol == "openai" else root

    @property
    def token_uri(self) -> str:
        """The Vertex fake's own OAuth token endpoint (Google's is oauth2.googleapis.com)."""
        return f"http://127.0.0.1:{self._port}{TOKEN_PATH}"

    def options(self) -> dict[str, str]:
        """The adapter options a sidecar config needs for this fake."""
        if self.protocol == "azure_openai":
            return {"api_version": "2024-10-21"}
        if self.protocol == "bedrock":
            return {"region": self.region}
        if self.protocol == "vertex":
            assert self.credentials_file is not None, "start the fake first"
            return {
                "region": self.region,
                "project": self.project,
                "credentials_file": str(self.credentials_file),
            }
        return {}

    def script(self, *behaviours: Behaviour) -> None:
        self._script.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        self._always = behaviour

    def script_embeddings(self, *behaviours: Behaviour | BadVectors) -> None:
        """For embeddings calls only, before the shared script and standing behaviour."""
        self._embedding_script.extend(behaviours)

    def embedding_calls(self) -> list[Received]:
        return [r for r in self.received if self.embedding_model(r) is not None]

    def embedding_model(self, received: Received) -> str | None:
        if self._embeddings is None:
            return None
        return self._embeddings.route(received.method, received.path, received.query)

    def reset(self) -> None:
        """Forget scripts, the standing behaviour and what was received."""
        self._script.clear()
        self._embedding_script.clear()
        self._always = None
        self.received.clear()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Stalled handlers must not hold up stop(); they are the point of some tests.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        if self.google is not None:
            self._key_dir = tempfile.TemporaryDirectory(prefix="fake-vertex-")
            path = Path(self._key_dir.name) / "service-account.json"
            self.credentials_file = self.google.service_account(path, self.token_uri)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._key_dir is not None:
            self._key_dir.cleanup()
            self._key_dir = None

    async def __aenter__(self) -> FakeProvider:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _next(self) -> Behaviour:
        if self._script:
            return self._script.popleft()
        return self._always or Ok()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if self.google is not None and request.path == TOKEN_PATH and request.method == "POST":
            # The token endpoint: not a call to the model API, so not in `received`.
            return await _send(request, self.google.grant(raw))
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        self.received.append(
            Received(
                request.method,
                request.path,
                dict(request.query),
                CIMultiDictProxy(CIMultiDict(request.headers)),
                raw,
                parsed,
                request.raw_path,
            )
        )
        if self.embedding_model(self.received[-1]) is not None:
            return await self._embed(request, parsed)
        route = self._dialect.route(request.method, request.path, request.query)
        if route is None:
            return await _send(request, self._dialect.not_found(request.path))
        stream = (
            route.stream
            if route.stream is not None
            else (isinstance(parsed, dict) and parsed.get("stream") is True)
        )
        model = route.model or (str(parsed.get("model", "")) if isinstance(parsed, dict) else "")
        refusal = self._refusal(request, raw)
        if refusal is not None:
            return await _send(request, refusal)
        if not self._dialect.authorized(request.headers, self.api_key):
            return await _send(request, self._dialect.error(Unauthorized(), model, stream))
        problem = self._dialect.header_problem(request.headers)
        if problem is not None:
            return await _send(request, problem)
        if not isinstance(parsed, dict):
            return await _send(request, self._dialect.error(InvalidRequest(), model, stream))
        problem = self._dialect.request_problem(parsed)
        if problem is not None:
            return await _send(request, problem)
        return await self._perform(request, self._next(), parsed, model, stream)

    async def _embed(self, request: web.Request, parsed: Any) -> web.StreamResponse:
        dialect = self._embeddings
        assert dialect is not None
        model = dialect.route(request.method, request.path, request.query) or ""
        if not model and isinstance(parsed, dict):
            model = str(parsed.get("model", ""))
        if not self._dialect.authorized(request.headers, self.api_key):
            return await _send(request, self._dialect.error(Unauthorized(), model, False))
        if not isinstance(parsed, dict):
            return await _send(request, self._dialect.error(InvalidRequest(), model, False))
        problem = dialect.request_problem(parsed, model)
        if problem is not None:
            return await _send(request, problem)
        behaviour = self._embedding_script.popleft() if self._embedding_script else self._next()
        texts = dialect.texts(parsed)
        dimensions = dialect.dimensions(parsed) or self.dimensions
        if isinstance(behaviour, Oversized):
            dimensions = max(dimensions, behaviour.bytes // 8)
        vectors = [fake_vector(model, text, dimensions) for text in texts]
        tamper = behaviour.tamper if isinstance(behaviour, BadVectors) else None
        reply = dialect.ok(vectors, model, parsed, fake_tokens(texts), tamper)
        if isinstance(
            behaviour,
            RateLimited
            | ServerError
            | Unavailable
            | Overloaded
            | InvalidRequest
            | ContentFilter
            | Unauthorized,
        ):
            reply = self._dialect.error(behaviour, model, False)
        elif isinstance(behaviour, ErrorUnder200):
            reply = self._dialect.error_under_200(False)
        elif isinstance(behaviour, WrongContentType):
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            reply = Reply(200, html, headers={"content-type": "text/html"})
        elif isinstance(behaviour, MalformedJSON | StreamCut):
            reply.body = reply.body[: len(reply.body) // 2]
        elif isinstance(behaviour, SlowFirstByte):
            await asyncio.sleep(behaviour.seconds)
        elif isinstance(behaviour, ConnectionReset):
            return await _reset(request, reply, behaviour.after_bytes)
        elif isinstance(behaviour, StallStream):
            return await _send(request, reply, stall_after=0, stall=behaviour.seconds)
        return await _send(request, reply)

    def _refusal(self, request: web.Request, raw: bytes) -> Reply | None:
        if self.aws is not None:
            headers = {name.lower(): value for name, value in request.headers.items()}
            return self.aws.refuse(request.method, request.raw_path, headers, raw)
        if self.google is not None:
            return self.google.refuse(request.headers.get("authorization", ""))
        return None

    def _ok(self, ok: Ok, body: dict[str, Any], model: str, stream: bool) -> Reply:
        text = ok.text
        if text is None:
            text = self._reply if self._reply is not None else (self._dialect.echo(body) or "")
            asked = self._dialect.json_asked(body)
            if asked is not None and not ok.tool_calls:
                text = json.dumps(json_instance(asked.schema, text))
        return self._dialect.ok(ok, text, ok.model or model, stream, body)

    async def _perform(
        self,
        request: web.Request,
        behaviour: Behaviour,
        body: dict[str, Any],
        model: str,
        stream: bool,
    ) -> web.StreamResponse:
        if isinstance(
            behaviour,
            RateLimited
            | ServerError
            | Unavailable
            | Overloaded
            | InvalidRequest
            | ContentFilter
            | Unauthorized,
        ):
            return await _send(request, self._dialect.error(behaviour, model, stream))
        if isinstance(behaviour, ErrorUnder200):
            return await _send(request, self._dialect.error_under_200(stream))
        if isinstance(behaviour, Oversized):
            return await _send(
                request, self._ok(Ok(text="x" * behaviour.bytes), body, model, stream)
            )
        if isinstance(behaviour, WrongContentType):
            html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return await _send(request, Reply(200, html, headers={"content-type": "text/html"}))
        if isinstance(behaviour, SlowFirstByte):
            await asyncio.sleep(behaviour.seconds)
            return await _send(request, self._ok(Ok(), body, model, stream))
        reply = self._ok(behaviour if isinstance(behaviour, Ok) else Ok(), body, model, stream)
        if isinstance(behaviour, ConnectionReset):
            return await _reset(request, reply, behaviour.after_bytes)
        if isinstance(behaviour, StallStream):
            return await _send(
                request, reply, stall_after=behaviour.after_events, stall=behaviour.seconds
            )
        if isinstance(behaviour, StreamCut):
            if reply.events is None:
                reply.body = reply.body[: len(reply.body) // 2]
            else:
                reply.events = reply.events[: behaviour.after_events]
        elif isinstance(behaviour, MalformedJSON):
            if reply.events is None:
                reply.body = reply.body[: len(reply.body) // 2]
            else:
                reply.events.insert(1, b'data: {"id": "chatcmpl-1", "choices": [{"delta": \n\n')
        elif isinstance(behaviour, MalformedSSE):
            garbage = b"data: <html>upstream error</html>\n\n"
            if reply.events is None:
                reply.body = garbage
            else:
                reply.events.insert(1, garbage)
        return await _send(request, reply)


async def _send(
    request: web.Request, reply: Reply, *, stall_after: int | None = None, stall: float = 0
) -> web.StreamResponse:
    if reply.events is None:
        if stall_after is not None:
            response = web.StreamResponse(status=reply.status, headers=reply.headers)
            await response.prepare(request)
            await asyncio.sleep(stall)
            await response.write(reply.body)
            await response.write_eof()
            return response
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
    response = web.StreamResponse(
        status=reply.status, headers=reply.headers | {"cache-control": "no-cache"}
    )
    await response.prepare(request)
    for n, event in enumerate(reply.events):
        if n == stall_after:
            await asyncio.sleep(stall)
        await response.write(event)
    await response.write_eof()
    return response


async def _reset(request: web.Request, reply: Reply, after_bytes: int | None) -> web.StreamResponse:
    response = web.StreamResponse(status=reply.status, headers=reply.headers)
    if after_bytes is not None:
        await response.prepare(request)
        data = reply.body if reply.events is None else b"".join(reply.events)
        await response.write(data[:after_bytes])
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER 0 makes close() send a TCP RST, as a crashed upstream would.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return response


__all__ = ["FakeProvider", "Protocol", "Received", "stream_bytes"]


def stream_bytes(protocol: Protocol, ok: Ok, model: str = "fake-model") -> bytes:
    """The exact SSE body the fake would stream for `ok`, for tests that need no socket."""
    asked = {"stream": True, "stream_options": {"include_usage": True}}
    reply = _DIALECTS[protocol]().ok(ok, ok.text or "", model, True, asked)
    return b"".join(reply.events or [])


@contextlib.asynccontextmanager
async def all_running(fakes: Iterable[FakeProvider]) -> AsyncIterator[None]:
    """Start each fake once (one may serve under several names), stop them all after."""
    async with contextlib.AsyncExitStack() as stack:
        for fake in {id(fake): fake for fake in fakes}.values():
            await stack.enter_async_context(fake)
        yield
