"""The HTTP surface: thin Starlette routes over the pipeline.

Routes only move bytes: they read the body (bounded), hand it to the pipeline, and
write back the reply. Errors become responses in the pipeline, in each protocol's
own error shape.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from policy_engine._config import Settings
from policy_engine._errors import BadRequest, BodyTooLarge, PolicyEngineError
from policy_engine._explain import DecisionQuery, explain
from policy_engine.api._openapi import openapi_document
from policy_engine.api._sidecar import Sidecar
from policy_engine.pipeline import JsonReply, Reply

_JSON = "application/json"


def _json(status: int, document: object, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(document), status, headers=headers, media_type=_JSON)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _to_response(reply: Reply) -> Response:
    if isinstance(reply, JsonReply):
        return Response(reply.body, reply.status, headers=reply.headers, media_type=_JSON)
    headers = {**reply.headers, "cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(
        reply.body, reply.status, headers=headers, media_type="text/event-stream"
    )


def _sidecar(request: Request) -> Sidecar:
    sidecar: Sidecar = request.app.state.sidecar
    return sidecar


def _chat_route(protocol: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        sidecar = _sidecar(request)
        try:
            body = await _read_body(request, sidecar.settings.server.max_body_bytes)
        except PolicyEngineError as error:
            return _to_response(await sidecar.pipeline.reject(protocol, error))
        except ClientDisconnect:
            return Response(status_code=499)
        reply = await sidecar.pipeline.handle(protocol, request.headers, body)
        return _to_response(reply)

    return endpoint


def _auth_error(request: Request) -> Response | None:
    """/v1/models and /v1/decisions need the same credentials as the chat routes."""
    try:
        _sidecar(request).authenticator.authenticate(request.headers)
    except PolicyEngineError as error:
        return _json(error.status, {"error": {"type": error.error_type, "message": error.message}})
    return None


async def models(request: Request) -> Response:
    if (denied := _auth_error(request)) is not None:
        return denied
    aliases = sorted(_sidecar(request).pipeline.aliases)
    if "anthropic-version" in request.headers:
        data: list[dict[str, object]] = [
            {"type": "model", "id": a, "display_name": a, "created_at": "1970-01-01T00:00:00Z"}
            for a in aliases
        ]
        first, last = (aliases[0], aliases[-1]) if aliases else (None, None)
        return _json(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
    data = [
        {"id": a, "object": "model", "created": 0, "owned_by": "policy-engine"} for a in aliases
    ]
    return _json(200, {"object": "list", "data": data})


async def decisions(request: Request) -> Response:
    if (denied := _auth_error(request)) is not None:
        return denied
    sidecar = _sidecar(request)
    try:
        body = await _read_body(request, sidecar.settings.server.max_body_bytes)
        query = DecisionQuery.model_validate_json(body or b"{}")
        result = await explain(sidecar.decider, sidecar.settings, query, sidecar.router.health)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        error_doc = BadRequest(f"{where}: {first['msg']}", param=where)
        return _json(400, {"error": {"type": error_doc.error_type, "message": error_doc.message}})
    except PolicyEngineError as error:
        return _json(error.status, {"error": {"type": error.error_type, "message": error.message}})
    return _json(200, result)


async def healthz(request: Request) -> Response:
    return _json(200, {"status": "ok"})


async def readyz(request: Request) -> Response:
    checks = await _sidecar(request).ready()
    return _json(200 if all(checks.values()) else 503, {"ready": all(checks.values()), **checks})


async def openapi(request: Request) -> Response:
    return _json(200, request.app.state.openapi)


async def metrics(request: Request) -> Response:
    body = _sidecar(request).metrics.render()
    return Response(body, 200, media_type="text/plain; version=0.0.4; charset=utf-8")


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.sidecar = await Sidecar.start(settings)
        app.state.started = time.time()
        try:
            yield
        finally:
            await app.state.sidecar.stop()

    routes = [
        Route("/v1/chat/completions", _chat_route("openai"), methods=["POST"]),
        Route("/v1/messages", _chat_route("anthropic"), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/decisions", decisions, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.openapi = openapi_document()
    return app
