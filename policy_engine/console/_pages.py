"""The console's pages, rendered on the server from Jinja2 templates: no script at all."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at
# run time, and they name aliases local to the router function.
import asyncio
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from policy_engine._auth import Caller, Unauthenticated
from policy_engine.audit import AuditError
from policy_engine.console._api import Viewer, filters_from, proof_response
from policy_engine.console._charts import fallback_chart, outcome_chart
from policy_engine.console._console import Console
from policy_engine.console._queries import Filters, decisions, facets, revisions, timeline
from policy_engine.console._sessions import COOKIE, SESSION_S, Sessions
from policy_engine.resilience import percent

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["percent"] = percent


def _safe_next(target: str | None) -> str:
    """Only a path on this console: never another host (`//evil`, `https://...`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def page_router(console: Console, viewer: Viewer, sessions: Sessions) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    Who = Annotated[Caller, Depends(viewer)]

    def render(request: Request, name: str, who: Caller, **context: Any) -> HTMLResponse:
        context |= {
            "who": who,
            "login": sessions.required,
            "log": console.verifier.status,
            "damage": console.index.damage,
        }
        return TEMPLATES.TemplateResponse(request, name, context)

    @router.get("/", response_class=HTMLResponse)
    def decisions_page(
        request: Request,
        who: Who,
        chosen: Annotated[Filters, Depends(filters_from)],
        before: Annotated[int | None, Query(ge=0)] = None,
    ) -> HTMLResponse:
        console.refresh()
        line = timeline(console.index, chosen, who.tenants)
        query = {k: v for k, v in chosen.to_json().items() if v is not None}
        return render(
            request,
            "decisions.html",
            who,
            page=decisions(console.index, chosen, who.tenants, before),
            filters=chosen,
            facets=facets(console.index, who.tenants),
            outcomes=outcome_chart(line),
            fallbacks=fallback_chart(line),
            bucket=line.width,
            query=urlencode(query),
        )

    @router.get("/requests/{request_id}", response_class=HTMLResponse)
    def request_page(request: Request, who: Who, request_id: str) -> HTMLResponse:
        console.refresh()
        view = console.request(request_id, who.tenants)
        if view is None:
            raise HTTPException(404, "no outcome record for this request id")
        return render(request, "request.html", who, view=view)

    @router.get("/requests/{request_id}/proof.json")
    async def proof_download(who: Who, request_id: str) -> Response:
        await asyncio.to_thread(console.refresh)
        if console.request(request_id, who.tenants) is None:
            raise HTTPException(404, "no outcome record for this request id")
        try:
            bundle = await console.proof(request_id)
        except AuditError as error:
            raise HTTPException(409, str(error)) from None
        return proof_response(bundle.to_json(), request_id)

    @router.get("/checkpoints", response_class=HTMLResponse)
    def checkpoints_page(request: Request, who: Who) -> HTMLResponse:
        console.refresh()
        return render(request, "checkpoints.html", who, checkpoints=console.checkpoints())

    @router.get("/resilience", response_class=HTMLResponse)
    async def resilience_page(
        request: Request, who: Who, residency: str = "", alias: str = "default"
    ) -> HTMLResponse:
        report = await console.resilience()
        tenants = [t for t in report.tenants if not who.tenants or t in who.tenants]
        rows = {
            (row.combination.tenant, row.combination.privacy_tags): row
            for row in report.rows
            if (row.combination.residency or "") == residency and row.combination.alias == alias
        }
        columns = sorted({tags for _, tags in rows}, key=lambda tags: (len(tags), tags))
        return render(
            request,
            "resilience.html",
            who,
            report=report,
            tenants=tenants,
            columns=columns,
            rows=rows,
            residency=residency,
            alias=alias,
        )

    @router.get("/policies", response_class=HTMLResponse)
    def policies_page(request: Request, who: Who) -> HTMLResponse:
        console.refresh()
        return render(
            request,
            "policies.html",
            who,
            seen=revisions(console.index, who.tenants),
            current=console.engine.revision,
            catalog=console.catalog_revision,
            providers=console.settings.providers,
            proposals=console.proposals,
        )

    @router.get("/impact/{name}", response_class=HTMLResponse)
    async def impact_page(request: Request, who: Who, name: str) -> HTMLResponse:
        proposal = console.proposal(name)
        if proposal is None:
            raise HTTPException(404, "no such proposal")
        await asyncio.to_thread(console.refresh)
        report = await console.impact(proposal, who.tenants)
        return render(request, "impact.html", who, proposal=proposal, report=report)

    @router.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, next: str = "/", failed: bool = False) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request, "login.html", {"next": _safe_next(next), "failed": failed, "login": True}
        )

    @router.post("/login")
    def login(token: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
        try:
            session = sessions.login(token)
        except Unauthenticated:
            query = urlencode({"next": _safe_next(next), "failed": "true"})
            return RedirectResponse(f"/login?{query}", status_code=303)
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            COOKIE, session, max_age=SESSION_S, httponly=True, samesite="strict", path="/"
        )
        return response

    @router.post("/logout")
    def logout(request: Request) -> Response:
        sessions.logout(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return router
