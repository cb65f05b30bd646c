"""Dry-run decisions: the full decision and the route it implies, nothing sent anywhere."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from adapters import Feature
from policy_engine._config import ProviderConfig, Settings
from policy_engine._context import (
    Operation,
    RoutingContext,
    estimate_input_tokens,
    read_routing_headers,
)
from policy_engine.decision import Decider, PolicyDecision
from policy_engine.routing import (
    Candidate,
    ProviderHealth,
    embedding_routes,
    plan_embeddings,
    plan_route,
    served_by,
    unmet_needs,
)


class DecisionQuery(BaseModel):
    """The body of POST /v1/decisions and the flags of `policy-engine decide`."""

    model_config = ConfigDict(extra="forbid")

    tenant: str
    residency: str | None = None
    privacy_tags: list[str] = Field(default_factory=list)
    task_classes: list[str] = Field(default_factory=list, description="as X-Task-Class")
    model: str = "default"
    stream: bool = False
    input_chars: int = Field(0, ge=0, le=2**31 - 1)  # echoed back: within a JSON integer
    has_tools: bool = False
    has_images: int = Field(0, ge=0, le=10_000, description="how many images the request carries")
    protocol: Literal["openai", "anthropic", "responses"] = "openai"
    operation: Operation = Field(
        "chat", description="chat, responses, or embeddings (an embedding alias's route)"
    )
    inputs: int = Field(1, ge=1, le=2048, description="embeddings: how many inputs")
    # What the request asks for beyond plain chat (README "Request fields"), e.g.
    # "response_format=json_schema": candidates that cannot honour one are skipped.
    features: list[Feature] = Field(default_factory=list)

    def context(self) -> RoutingContext:
        # The same validation as the request headers, so a dry run means what a request means.
        headers = read_routing_headers(
            {
                "x-tenant-id": self.tenant,
                "x-data-residency": self.residency or "",
                "x-privacy-tags": ",".join(self.privacy_tags),
                "x-task-class": ",".join(self.task_classes),
            }
        )
        return RoutingContext(
            tenant=headers.tenant,
            residency=headers.residency,
            privacy_tags=headers.privacy_tags,
            model=self.model,
            stream=self.stream,
            input_chars=self.input_chars,
            protocol=self.protocol,
            task_classes=headers.task_classes,
            input_tokens=estimate_input_tokens(self.input_chars, self.has_images),
            has_tools=self.has_tools,
            has_images=self.has_images > 0,
            operation=self.operation,
        )


async def explain(
    decider: Decider,
    settings: Settings,
    query: DecisionQuery,
    health: Mapping[str, ProviderHealth],
    not_ready: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The decision and the route a request would take; `not_ready` (provider id -> why)
    are left out of the route, as the router leaves them out, and listed as skipped."""
    context = query.context()
    decision = await decider.decide(context)
    missing = not_ready or {}
    providers = [p for p in settings.providers if p.id not in missing]
    needs = frozenset(query.features)
    embeddings = query.operation == "embeddings"
    if embeddings:
        route, serving = _embedding_route(decision, settings, query, providers, health)
    else:
        strategy = settings.routing.strategy
        route = plan_route(decision, context.model, providers, health, strategy, needs)
        serving = served_by(settings.providers, context.model)
    skipped: dict[str, Any] = {
        p: missing[p] for p in decision.allowed if p in missing and p in serving
    }
    unmet = {} if embeddings else unmet_needs(decision, context.model, providers, needs)
    for p, lacking in unmet.items():
        skipped[p] = [f.value for f in lacking]
    return {
        "input": decider.input_for(context),
        "decision": decision.summary(),
        "route": [{"provider": c.id, "model": c.model, "redact": sorted(c.redact)} for c in route],
        "skipped": skipped,
    }


def _embedding_route(
    decision: PolicyDecision,
    settings: Settings,
    query: DecisionQuery,
    providers: list[ProviderConfig],
    health: Mapping[str, ProviderHealth],
) -> tuple[list[Candidate], Mapping[str, str]]:
    """The embeddings route for the model, and who serves it (none: not an embedding model)."""
    route = embedding_routes(settings).get(query.model)
    if route is None:
        return [], {}
    strategy = settings.routing.strategy
    return (
        plan_embeddings(decision, route, providers, health, strategy, query.inputs),
        route.served,
    )
