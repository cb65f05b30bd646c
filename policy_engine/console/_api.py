"""The console's JSON API: what the pages show, for tools (its OpenAPI is /openapi.json)."""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations at
# run time, and they name aliases local to the router function.
import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from policy_engine._auth import Caller
from policy_engine.audit import AuditError
from policy_engine.console._console import Console
from policy_engine.console._queries import Filters, decisions, facets, revisions, timeline

Viewer = Callable[[Request], Caller]


def parse_time(text: str | None, name: str) -> datetime | None:
    """ISO 8601; naive means UTC; empty means unset (as an HTML form sends it)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"{name}: not an ISO 8601 time: {text[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filters_from(
    tenant: str | None = None,
    provider: str | None = None,
    outcome: str | None = None,
    rule: str | None = None,
    revision: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Filters:
    """The decision filters from a query string; an empty value is no filter."""
    return Filters(
        tenant=tenant or None,
        provider=provider or None,
        outcome=outcome or None,
        rule=rule or None,
        revision=revision or None,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
    )


def proof_response(body: dict[str, Any], request_id: str) -> Response:
    safe = "".join(c for c in request_id if c.isalnum() or c in "-_")[:64] or "request"
    return Response(
        orjson.dumps(body, option=orjson.OPT_INDENT_2),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="proof-{safe}.json"'},
    )


def api_router(console: Console, viewer: Viewer) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["console"])
    Who = Annotated[Caller, Depends(viewer)]
    Chosen = Annotated[Filters, Depends(filters_from)]

    @router.get("/decisions", summary="Outcome records, newest first, filtered")
    def list_decisions(
        who: Who,
        chosen: Chosen,
        before: Annotated[int | None, Query(ge=0, description="seq cursor: older than")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        console.refresh()
        page = decisions(console.index, chosen, who.tenants, before, limit)
        return {
            "filters": chosen.to_json(),
            "total": page.total,
            "rows": [row.to_json() for row in page.rows],
            "next_before": page.next_before,
        }

    @router.get("/timeline", summary="Outcomes and fallbacks per time bucket, filtered")
    def get_timeline(who: Who, chosen: Chosen) -> dict[str, Any]:
        console.refresh()
        return timeline(console.index, chosen, who.tenants).to_json()

    @router.get("/facets", summary="The values each filter can take")
    def get_facets(who: Who) -> dict[str, list[str]]:
        console.refresh()
        return facets(console.index, who.tenants).to_json()

    @router.get("/requests/{request_id}", summary="One request: record, intent, verify status")
    def get_request(who: Who, request_id: str) -> dict[str, Any]:
        console.refresh()
        view = console.request(request_id, who.tenants)
        if view is None:
            raise HTTPException(404, "no outcome record for this request id")
        return view.to_json()

    @router.get(
        "/requests/{request_id}/proof",
        summary="The inclusion proof of the request's record (as `audit prove` prints it)",
    )
    async def get_proof(who: Who, request_id: str) -> Response:
        await asyncio.to_thread(console.refresh)
        if console.request(request_id, who.tenants) is None:
            raise HTTPException(404, "no outcome record for this request id")
        try:
            bundle = await console.proof(request_id)
        except AuditError as error:
            raise HTTPException(409, str(error)) from None
        return proof_response(bundle.to_json(), request_id)

    @router.get("/checkpoints", summary="Signed checkpoints, newest first, with their status")
    def get_checkpoints(who: Who) -> dict[str, Any]:
        console.refresh()
        return {
            "log": console.verifier.status.to_json(),
            "checkpoints": console.checkpoints(),
        }

    @router.get("/verify", summary="The whole log's latest verify result")
    def get_verify(who: Who) -> dict[str, Any]:
        console.refresh()
        return console.verifier.status.to_json()

    @router.get("/resilience", summary="The resilience report of the policy as it is now")
    async def get_resilience(who: Who) -> dict[str, Any]:
        report = (await console.resilience()).to_json()
        if who.tenants:
            report["rows"] = [r for r in report["rows"] if r["tenant"] in who.tenants]
            report["tenants"] = [t for t in report["tenants"] if t in who.tenants]
        return report

    @router.get("/policies", summary="Policy revisions seen in the log, and the ones in force")
    def get_policies(who: Who) -> dict[str, Any]:
        console.refresh()
        return {
            "current_revision": console.engine.revision,
            "catalog_revision": console.catalog_revision,
            "seen": [seen.to_json() for seen in revisions(console.index, who.tenants)],
            "proposals": [p.name for p in console.proposals],
        }

    @router.get("/impact/{name}", summary="A proposed policy replayed on the recorded decisions")
    async def get_impact(who: Who, name: str) -> dict[str, Any]:
        proposal = console.proposal(name)
        if proposal is None:
            raise HTTPException(404, "no such proposal")
        await asyncio.to_thread(console.refresh)
        return (await console.impact(proposal, who.tenants)).to_json()

    return router
