"""The resilience report: for every tenant, residency, privacy tag set, model alias and
operation, which providers could serve a request, across how many failure domains.

Every row comes from `Decider.decide` on a `RoutingContext` and from `plan_route` (for
an embedding alias, `plan_embeddings`), the calls the request path makes, so the report
cannot disagree with real routing. Chat aliases are reported for `chat` and
`responses` (the policy may treat them apart), embedding aliases for `embeddings`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from policy_engine._config import Settings
from policy_engine._context import OPERATIONS, Operation
from policy_engine._explain import DecisionQuery
from policy_engine.decision import Decider
from policy_engine.resilience._domains import (
    FailureDomain,
    combined_availability,
    failure_domains,
)
from policy_engine.resilience._facts import PolicyFacts
from policy_engine.routing import EmbeddingRoute, embedding_routes, plan_embeddings, plan_route

Status = Literal["ok", "spof", "none"]


@dataclass(frozen=True, slots=True)
class Combination:
    tenant: str
    residency: str | None  # as sent in X-Data-Residency; None = header absent
    privacy_tags: tuple[str, ...]  # as sent in X-Privacy-Tags
    alias: str
    operation: Operation = "chat"

    def query(self) -> DecisionQuery:
        return DecisionQuery(
            tenant=self.tenant,
            residency=self.residency,
            privacy_tags=list(self.privacy_tags),
            model=self.alias,
            operation=self.operation,
        )


@dataclass(frozen=True, slots=True)
class ResilienceRow:
    combination: Combination
    revision: str  # the policy revision the decision came from
    allowed: tuple[str, ...]  # the decision's allowed set, whatever the alias
    route: tuple[str, ...]  # allowed ∩ serves the alias, in the order they would be tried
    domains: tuple[FailureDomain, ...]  # of the route's providers
    clouds: tuple[str, ...]
    availability: float | None
    reasons: tuple[str, ...]  # distinct denial reasons, when nothing serves the alias

    @property
    def status(self) -> Status:
        if not self.route:
            return "none"
        return "spof" if len(self.domains) == 1 else "ok"

    @property
    def single_point_of_failure(self) -> str | None:
        return self.domains[0].name if self.status == "spof" else None

    def to_json(self) -> dict[str, Any]:
        c = self.combination
        return {
            "revision": self.revision,
            "tenant": c.tenant,
            "residency": c.residency,
            "privacy_tags": list(c.privacy_tags),
            "alias": c.alias,
            "operation": c.operation,
            "status": self.status,
            "allowed": list(self.allowed),
            "route": list(self.route),
            "providers": len(self.route),
            "clouds": len(self.clouds),
            "failure_domains": [
                {
                    "name": d.name,
                    "cloud": d.cloud,
                    "region": d.region,
                    "providers": list(d.providers),
                    "availability": d.availability,
                }
                for d in self.domains
            ],
            "single_point_of_failure": self.single_point_of_failure,
            "availability": self.availability,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class ResilienceReport:
    # More than one when the policy changed while the report ran (an OPA bundle update).
    revisions: tuple[str, ...]
    tenants: tuple[str, ...]
    residencies: tuple[str | None, ...]
    privacy_tags: tuple[str, ...]
    aliases: tuple[str, ...]
    rows: tuple[ResilienceRow, ...]
    operations: tuple[Operation, ...] = OPERATIONS

    def count(self, status: Status) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def has_gaps(self) -> bool:
        """Any combination with a single point of failure, or with no provider at all."""
        return any(row.status != "ok" for row in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "revisions": list(self.revisions),
            "tenants": list(self.tenants),
            "residencies": list(self.residencies),
            "privacy_tags": list(self.privacy_tags),
            "aliases": list(self.aliases),
            "operations": list(self.operations),
            "summary": {
                "combinations": len(self.rows),
                "ok": self.count("ok"),
                "spof": self.count("spof"),
                "none": self.count("none"),
            },
            "rows": [row.to_json() for row in self.rows],
        }


def residencies(settings: Settings, facts: PolicyFacts) -> tuple[str | None, ...]:
    """No header, then every residency a tenant or a provider names."""
    named = {p.attributes.residency for p in settings.providers if p.attributes.residency}
    for entry in facts.tenants.values():
        value = entry.get("residency") if isinstance(entry, dict) else None
        if isinstance(value, str) and value.strip():
            named.add(value)
    return (None, *sorted({r.strip().lower() for r in named}))


def _tag_sets(tags: Sequence[str]) -> Iterator[tuple[str, ...]]:
    for size in range(len(tags) + 1):
        yield from itertools.combinations(tags, size)


def alias_operations(settings: Settings) -> list[tuple[str, Operation]]:
    """Every alias with each operation it serves: a chat alias both chat operations, an
    embedding alias embeddings."""
    aliases = sorted({alias for p in settings.providers for alias in p.models})
    chat: tuple[Operation, ...] = ("chat", "responses")
    return [
        (alias, operation)
        for alias in aliases
        for operation in (("embeddings",) if alias in settings.embeddings else chat)
    ]


def combinations(
    settings: Settings,
    facts: PolicyFacts,
    tenants: Sequence[str] | None = None,
    operations: Sequence[Operation] = OPERATIONS,
) -> list[Combination]:
    """Every tenant (or the ones named), residency, tag subset, alias and operation (or
    the ones named), in that order."""
    served = [(a, o) for a, o in alias_operations(settings) if o in operations]
    return [
        Combination(tenant, residency, tags, alias, operation)
        for tenant in sorted(facts.tenants if tenants is None else set(tenants))
        for residency in residencies(settings, facts)
        for tags in _tag_sets(facts.privacy_tags)
        for alias, operation in served
    ]


async def evaluate(
    decider: Decider,
    settings: Settings,
    combination: Combination,
    routes: dict[str, EmbeddingRoute] | None = None,
) -> ResilienceRow:
    """One row, through the request path's own calls (`routes`: the embedding routes,
    when the caller has built them already)."""
    context = combination.query().context()
    decision = await decider.decide(context)
    # No health: the report is about what the policy and catalog allow, not about
    # which circuits happen to be open right now.
    strategy = settings.routing.strategy
    if combination.operation == "embeddings":
        route_table = embedding_routes(settings) if routes is None else routes
        embedding = route_table[context.model]
        route = plan_embeddings(decision, embedding, settings.providers, {}, strategy, 1)
    else:
        route = plan_route(decision, context.model, settings.providers, {}, strategy)
    providers = [candidate.provider for candidate in route]
    domains = tuple(failure_domains(providers))
    # A provider that names no cloud counts as a cloud of its own, as in failure_domains.
    clouds = {p.attributes.cloud or f"?{p.id}" for p in providers}
    reasons: set[str] = set()
    if not route:
        reasons.update(reason for found in decision.denied.values() for reason in found)
        if decision.allowed:
            reasons.add(f"model: no allowed provider maps the alias {combination.alias}")
    return ResilienceRow(
        combination=combination,
        revision=decision.revision,
        allowed=decision.allowed,
        route=tuple(candidate.id for candidate in route),
        domains=domains,
        clouds=tuple(sorted(clouds)),
        availability=combined_availability(domains),
        reasons=tuple(sorted(reasons)),
    )


# Rows decided at once by the report's callers (the CLI and the console): one per core,
# each on its own engine thread (`engine_from_settings(settings, REPORT_CONCURRENCY)`).
REPORT_CONCURRENCY = os.cpu_count() or 1


async def build_report(
    decider: Decider,
    settings: Settings,
    facts: PolicyFacts,
    tenants: Sequence[str] | None = None,
    operations: Sequence[Operation] = OPERATIONS,
    concurrency: int = 1,
) -> ResilienceReport:
    """The report for every tenant in the policy data, or only for `tenants`; for every
    operation, or only `operations`. Up to `concurrency` rows are decided at once (as
    many as the engine has threads: more would only queue, and a queued decision's wait
    counts against `policy.timeout_ms`)."""
    combos = combinations(settings, facts, tenants, operations)
    routes = embedding_routes(settings)
    gate = asyncio.Semaphore(concurrency)

    async def row(combination: Combination) -> ResilienceRow:
        async with gate:
            return await evaluate(decider, settings, combination, routes)

    tasks = [asyncio.create_task(row(combination)) for combination in combos]
    try:
        rows = await asyncio.gather(*tasks)
    except BaseException:
        # The first failure is the report's, raised as itself (a task group would wrap it
        # in an ExceptionGroup, which the CLI's and the console's PolicyEngineError
        # handlers do not catch); the rows still pending are not needed.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return ResilienceReport(
        revisions=tuple(sorted({row.revision for row in rows})),
        tenants=tuple(sorted({c.tenant for c in combos})),
        residencies=residencies(settings, facts),
        privacy_tags=facts.privacy_tags,
        aliases=tuple(sorted({c.alias for c in combos})),
        rows=tuple(rows),
        operations=tuple(o for o in OPERATIONS if o in operations),
    )
