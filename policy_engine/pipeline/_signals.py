"""What an answer tells its client about where it came from: the model that answered,
and whether it came from a fallback and why (`X-Routed-Model`, `X-Fallback`).

A client can then say so to its user ("answered by a smaller model while the usual one
is rate limited") instead of hiding a switch the user may notice anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from adapters import Feature
from policy_engine._config import ProviderConfig, RoutingSettings
from policy_engine.decision import PolicyDecision
from policy_engine.pipeline._outcome import RequestOutcome
from policy_engine.routing import Attempt, Candidate, ProviderHealth, plan_route
from policy_engine.telemetry import response_model

CIRCUIT_OPEN = "circuit_open"
"""The fallback reason when the first candidate was not tried: its circuit was open."""


def routed_model(candidate: Candidate) -> str:
    """The answering model's name: its identity across providers (model_attributes'
    `model`, e.g. gpt-4o for an Azure deployment named prod-4o), else the provider's name."""
    return candidate.provider.model_facts(candidate.model).model or candidate.model


def record_answer(
    outcome: RequestOutcome,
    plan: Sequence[Candidate],
    answered: Candidate,
    reported: str,
    first: str | None,
) -> None:
    """Who answered, with which model, at which price, and whether as a fallback
    (`reported`: the provider's own name for its model; `first`: see `first_choice`)."""
    outcome.provider = answered.id
    outcome.model = routed_model(answered)
    outcome.response_model = response_model(reported, answered.model)
    outcome.price = answered.provider.price(answered.model)
    outcome.fallback = fallback_reason(plan, outcome.attempts, answered, first)


def fallback_reason(
    plan: Sequence[Candidate],
    attempts: Sequence[Attempt],
    answered: Candidate,
    first_choice: str | None,
) -> str | None:
    """Why the answer did not come from the first candidate; None when it did.

    `first_choice` is the provider the plan would start with if every circuit were
    closed (see `first_choice`): an answer from the plan's first candidate is still a
    fallback when that provider was left out for an open circuit.
    """
    if not plan:
        return None
    first = plan[0].id
    if answered.id == first:
        return CIRCUIT_OPEN if first_choice not in (None, first) else None
    for attempt in attempts:
        if attempt.provider == first:
            return attempt.outcome
    # The first candidate's circuit refused the attempt (its half-open probe was taken).
    return CIRCUIT_OPEN


def first_choice(
    decision: PolicyDecision,
    alias: str,
    providers: Sequence[ProviderConfig],
    health: Mapping[str, ProviderHealth],
    routing: RoutingSettings,
    needs: frozenset[Feature],
) -> str | None:
    """The provider the plan would start with were no circuit open; None when no allowed
    provider serving the alias has an open circuit.

    While every circuit is closed this costs a look at each breaker; the plan is ordered
    again only during an outage.
    """
    if all(h.breaker.closed for h in health.values()):
        return None
    open_circuits = [
        p.id
        for p in providers
        if p.id in health
        and not health[p.id].breaker.available()
        and p.id in decision.allowed_redact
        and alias in p.models
    ]
    if not open_circuits:
        return None
    # Leaving a provider out of `health` counts it as available to plan_route.
    closed = {pid: h for pid, h in health.items() if pid not in open_circuits}
    ordered = plan_route(decision, alias, providers, closed, routing.strategy, needs)
    first = ordered[0].id if ordered else None
    return first if first in open_circuits else None


def excluded(decision: PolicyDecision, alias: str, providers: Sequence[ProviderConfig]) -> str:
    """The providers serving `alias` that the policy did not allow, and why: when the
    allowed ones are down, the client learns what else there was (a model below the
    request's quality floor, say) and why it was not used."""
    reasons = [
        f"{p.id} ({'; '.join(decision.denied[p.id])})"
        for p in providers
        if alias in p.models and p.id in decision.denied
    ]
    return f"; not allowed by the policy: {', '.join(reasons)}" if reasons else ""
