"""The HTTP surface: the chat-like and embeddings routes as bare ASGI, the rest as thin
Starlette routes.

Routes only move bytes: they read the body (bounded), hand it to the pipeline, and
write back the reply. Errors become responses in the pipeline, in each protocol's
own error shape.

The chat routes (Chat Completions, Messages, Responses) and embeddings carry all the
traffic, so they are plain ASGI callables reached before Starlette's routing, middleware
and Request/Response objects, none of which they use (Starlette was 8% of the sidecar's
profile under load; bench/PERF_NOTES.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters import CLIENT_PROTOCOLS, client_codec
from policy_engine._auth import Caller
from policy_engine._config import Settings
from policy_engine._errors import BadRequest, BodyTooLarge, PolicyEngineError, RequestTimeout
from policy_engine._explain import DecisionQuery, explain
from policy_engine.api._guard import BODY_TIMED_OUT
from policy_engine.api._openapi import openapi_document
from policy_engine.api._sidecar import Sidecar
from policy_engine.pipeline import JsonReply, Reply

_JSON = "application/json"
_CHAT_PATHS = {
    "/v1/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/v1/responses": "responses",
}
_CODECS = {protocol: client_codec(protocol) for protocol in CLIENT_PROTOCOLS}
_JSON_TYPE = (b"content-type", b"application/json")
_STREAM_HEADERS = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
)


class _ClientGone(Exception):
    """The client closed the connection before its request body arrived."""


def _json(status: int, document: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(document), status, headers=headers, media_type=_JSON)


# Headers that say who is asking and for whom carry one value. Sent twice (an empty
# line first included), the request is refused rather than one of them picked: RFC
# 9110 section 5.3 lets only list-valued fields repeat.
_SINGLE_VALUED = {
    "x-tenant-id": "X-Tenant-ID",
    "authorization": "Authorization",
    "x-api-key": "x-api-key",
}


def _header_map(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI header pairs (names already lower-case) as a dict, repeats combined as the
    list RFC 9110 makes of them ("a, b"): the routing headers read a list so that it
    can only tighten (privacy tags add up, residencies must agree), and a repeated
    single-valued header is a 400."""
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1")
        text = value.decode("latin-1")
        seen = headers.get(key)
        if seen is None:
            headers[key] = text
        elif key in _SINGLE_VALUED:
            shown = _SINGLE_VALUED[key]
            raise BadRequest(f"the {shown} header was sent more than once", param=shown)
        else:
            headers[key] = f"{seen}, {text}"
    return headers


async def _receive_body(scope: Scope, receive: Receive, declared: str | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            if BODY_TIMED_OUT in scope.get("extensions", ()):
                raise RequestTimeout("the request body did not arrive in time")
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _encoded(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


async def _send_reply(reply: Reply, receive: Receive, send: Send) -> None:
    if isinstance(reply, JsonReply):
        headers = [_JSON_TYPE, (b"content-length", b"%d" % len(reply.body))]
        headers += _encoded(reply.headers)
        try:
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": reply.body})
        finally:
            if reply.hold is not None:
                reply.hold.release()  # the answer is written: its memory is given back
        return
    headers = [*_STREAM_HEADERS, *_encoded(reply.headers)]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    # Writing to a closed connection does not fail under uvicorn, so a listener notices
    # the client leaving and cancels the stream: the pipeline then records the request
    # as client_disconnected and closes the upstream stream.
    streaming = asyncio.current_task()
    assert streaming is not None
    listener = asyncio.create_task(_cancel_on_disconnect(receive, streaming))
    try:
        async for chunk in reply.body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        listener.cancel()
        await reply.body.aclose()


async def _cancel_on_disconnect(receive: Receive, task: asyncio.Task[Any]) -> None:
    while (await receive())["type"] != "http.disconnect":
        continue
    task.cancel()


class _ChatEndpoint:
    """POST a chat request in one client protocol: body in, pipeline, reply out."""

    def __init__(self, protocol: str) -> None:
        self._protocol = protocol

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sidecar: Sidecar = scope["app"].state.sidecar
        limit = sidecar.settings.server.max_body_bytes
        try:
            headers = _header_map(scope["headers"])
            body = await _receive_body(scope, receive, headers.get("content-length"), limit)
        except PolicyEngineError as error:
            reply = await sidecar.pipeline.reject(self._protocol, error)
        except _ClientGone:
            await send({"type": "http.response.start", "status": 499, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        else:
            reply = await sidecar.pipeline.handle(self._protocol, headers, body)
        with contextlib.suppress(asyncio.CancelledError):
            await _send_reply(reply, receive, send)


class _EmbeddingsEndpoint:
    """POST /v1/embeddings: body in, the embeddings pipeline, reply out."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sidecar: Sidecar = scope["app"].state.sidecar
        limit = sidecar.settings.server.max_body_bytes
        try:
            headers = _header_map(scope["headers"])
            body = await _receive_body(scope, receive, headers.get("content-length"), limit)
        except PolicyEngineError as error:
            reply = await sidecar.embeddings.reject_embeddings(error)
        except _ClientGone:
            await send({"type": "http.response.start", "status": 499, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        else:
            reply = await sidecar.embeddings.handle_embeddings(headers, body)
        with contextlib.suppress(asyncio.CancelledError):
            await _send_reply(reply, receive, send)


def _sidecar(request: Request) -> Sidecar:
    sidecar: Sidecar = request.app.state.sidecar
    return sidecar


def _protocol(request: Request) -> str:
    """The client protocol of a request off the chat routes: Anthropic's SDKs send
    `anthropic-version` on every call, and /v1/messages is Anthropic's; else OpenAI's."""
    path = request.url.path
    if "anthropic-version" in request.headers:
        return "anthropic"
    return "anthropic" if path == "/v1/messages" or path.startswith("/v1/messages/") else "openai"


def _error(
    request: Request, error: PolicyEngineError, headers: Mapping[str, str] | None = None
) -> Response:
    """The error in the request's protocol, encoded by the same codec as the chat routes'."""
    body = _CODECS[_protocol(request)].encode_error(
        error.status, error.error_type, error.client_message, error.param
    )
    return Response(body, error.status, headers=headers, media_type=_JSON)


def _caller(request: Request) -> Caller:
    """/v1/models and /v1/decisions need the same credentials as the chat routes, read
    from the headers the same way."""
    return _sidecar(request).authenticator.authenticate(_header_map(request.scope["headers"]))


def _auth_error(request: Request) -> Response | None:
    try:
        _caller(request)
    except PolicyEngineError as error:
        return _error(request, error)
    return None


class _NoRoute(PolicyEngineError):
    status = 404
    error_type = "not_found"


class _WrongMethod(PolicyEngineError):
    status = 405
    error_type = "invalid_request"


async def _routing_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405: under /v1/ in the protocol's error JSON, as SDKs parse it;
    elsewhere (probes, metrics) its plain text."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path != "/v1" and not path.startswith("/v1/"):
        return Response(exc.detail, exc.status_code, headers=exc.headers)
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        error: PolicyEngineError = _WrongMethod(
            f"{request.method} is not allowed on this endpoint; use {allowed}"
        )
    else:
        error = _NoRoute("no such endpoint; GET /openapi.json lists them")
    return _error(request, error, exc.headers)


def _model(protocol: str, name: str) -> dict[str, object]:
    if protocol == "anthropic":
        return {
            "type": "model",
            "id": name,
            "display_name": name,
            "created_at": "1970-01-01T00:00:00Z",
        }
    return {"id": name, "object": "model", "created": 0, "owned_by": "policy-engine"}


async def models(request: Request) -> Response:
    if (denied := _auth_error(request)) is not None:
        return denied
    aliases = sorted(_sidecar(request).pipeline.aliases)
    protocol = _protocol(request)
    data = [_model(protocol, alias) for alias in aliases]
    if protocol == "anthropic":
        first, last = (aliases[0], aliases[-1]) if aliases else (None, None)
        return _json(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
    return _json(200, {"object": "list", "data": data})


async def model(request: Request) -> Response:
    """One model: an alias, or a provider model a configured provider serves as is."""
    if (denied := _auth_error(request)) is not None:
        return denied
    name: str = request.path_params["model"]
    sidecar = _sidecar(request)
    pipeline = sidecar.pipeline
    if not pipeline.serves(name) and not sidecar.embeddings.serves_embeddings(name):
        return _error(request, pipeline.unknown_model(name))
    return _json(200, _model(_protocol(request), name))


async def decisions(request: Request) -> Response:
    sidecar = _sidecar(request)
    try:
        caller = _caller(request)
        limit = sidecar.settings.server.max_body_bytes
        declared = request.headers.get("content-length")
        body = await _receive_body(request.scope, request.receive, declared, limit)
        query = DecisionQuery.model_validate_json(body or b"{}")
        # A token bound to tenants reads their decisions only, as on the chat routes.
        caller.check_tenant(query.tenant)
        result = await explain(
            sidecar.decider, sidecar.settings, query, sidecar.router.health, sidecar.not_ready
        )
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        return _error(request, BadRequest(f"{where}: {first['msg']}", param=where))
    except PolicyEngineError as error:
        return _error(request, error)
    return _json(200, result)


async def stored_response(request: Request) -> Response:
    """The Responses API's routes on stored responses (retrieve, delete, cancel, input
    items...): the sidecar stores none, and says so rather than "no such endpoint"."""
    return _error(
        request,
        _NoRoute(
            "the sidecar serves POST /v1/responses alone: it stores no responses (store: true "
            "is refused), so there is none to retrieve, delete, cancel or list"
        ),
    )


async def healthz(request: Request) -> Response:
    return _json(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    sidecar = _sidecar(request)
    checks = await sidecar.ready()
    ready = all(checks.values())
    # Ready while one provider can be called; the others are named with what they lack.
    body = {"ready": ready, **checks, "providers_not_ready": sidecar.not_ready}
    return _json(200 if ready else 503, body)


async def openapi(request: Request) -> Response:
    return _json(200, request.app.state.openapi)


async def metrics(request: Request) -> Response:
    body = _sidecar(request).metrics.render()
    return Response(body, 200, media_type="text/plain; version=0.0.4; charset=utf-8")


class SidecarApp:
    """The ASGI application: chat POSTs go straight to their endpoint, all else to Starlette
    (which also holds the chat routes, for their 405 answers and the lifespan)."""

    def __init__(self, starlette: Starlette, chat: Mapping[str, ASGIApp]) -> None:
        self._starlette = starlette
        self._chat = chat

    @property
    def state(self) -> State:
        return self._starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self._chat.get(scope["path"])
            if endpoint is not None:
                scope["app"] = self._starlette
                await endpoint(scope, receive, send)
                return
        await self._starlette(scope, receive, send)


def create_app(settings: Settings) -> SidecarApp:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.sidecar = await Sidecar.start(settings)
        app.state.started = time.time()
        # What startup built (policy, provider catalog, phone metadata, ~70k objects) lives
        # as long as the process: out of the collector's sight, a full collection takes
        # under 0.1 ms instead of ~21 ms, which showed as the p99 under load (PERF_NOTES.md).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.sidecar.stop()

    chat: dict[str, ASGIApp] = {
        path: _ChatEndpoint(protocol) for path, protocol in _CHAT_PATHS.items()
    }
    chat["/v1/embeddings"] = _EmbeddingsEndpoint()
    routes = [Route(path, endpoint, methods=["POST"]) for path, endpoint in chat.items()]
    routes += [
        Route("/v1/models", models, methods=["GET"]),
        # `:path`: provider models may hold a slash (meta-llama/Llama-3.1-8B-Instruct).
        Route("/v1/models/{model:path}", model, methods=["GET"]),
        Route("/v1/decisions", decisions, methods=["POST"]),
        Route("/v1/responses/{rest:path}", stored_response, methods=["GET", "POST", "DELETE"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: _routing_error, 405: _routing_error},
    )
    app.state.openapi = openapi_document()
    return SidecarApp(app, chat)
