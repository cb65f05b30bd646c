"""The console's FastAPI application: pages, the JSON API, sign-in, and strict headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from policy_engine import __version__
from policy_engine._auth import Caller, Unauthenticated
from policy_engine._errors import PolicyEngineError
from policy_engine.console._api import api_router
from policy_engine.console._console import Console
from policy_engine.console._pages import TEMPLATES, page_router
from policy_engine.console._sessions import COOKIE, Sessions

STATIC = Path(__file__).parent / "static"

# Everything the pages load comes from here; no script runs at all.
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds the console's fixed response headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_console_app(console: Console, sessions: Sessions) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await console.close()

    app = FastAPI(
        title="policy-engine console",
        version=__version__,
        description="Read-only views of the audit log, the policies and the provider catalog.",
        docs_url=None,  # the interactive docs load scripts from a CDN; the console is offline
        redoc_url=None,
        lifespan=lifespan,
    )

    def viewer(request: Request) -> Caller:
        return sessions.caller(request.headers, request.cookies.get(COOKIE))

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, error: Unauthenticated) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": error.message}, 401, {"www-authenticate": "Bearer"})
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": error.detail}, error.status_code)
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {"status": error.status_code, "detail": error.detail, "login": sessions.required},
            status_code=error.status_code,
        )

    @app.exception_handler(PolicyEngineError)
    async def policy_error(request: Request, error: PolicyEngineError) -> Response:
        # A proposal or policy that cannot be read or evaluated: say why, in the page's shape.
        return await http_error(request, HTTPException(error.status, error.message))

    app.include_router(api_router(console, viewer))
    app.include_router(page_router(console, viewer, sessions))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    return app
