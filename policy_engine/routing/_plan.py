"""The route plan: which allowed providers may serve this request, in which order."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from adapters import Feature, adapter_features, feature_label, feature_param
from policy_engine._config import ProviderConfig
from policy_engine._errors import FeatureUnavailable
from policy_engine.decision import PolicyDecision
from policy_engine.routing._health import ProviderHealth

Strategy = Literal["priority", "price", "latency"]


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: ProviderConfig
    model: str  # the provider's model for the requested alias
    redact: frozenset[str]  # entity types the decision says to redact for this provider

    @property
    def id(self) -> str:
        return self.provider.id

    @property
    def failure_domain(self) -> tuple[str | None, str | None]:
        attributes = self.provider.attributes
        return attributes.cloud, attributes.region


def _strategy_key(
    provider: ProviderConfig, strategy: Strategy, health: Mapping[str, ProviderHealth]
) -> tuple[float, int, str]:
    if strategy == "price":
        a = provider.attributes
        if a.price_per_1m_input is None or a.price_per_1m_output is None:
            rank = math.inf
        else:
            rank = a.price_per_1m_input + a.price_per_1m_output
    elif strategy == "latency":
        observed = health[provider.id].latency.value if provider.id in health else None
        rank = math.inf if observed is None else observed
    else:
        rank = float(provider.priority)
    return rank, provider.priority, provider.id


def served_by(providers: Sequence[ProviderConfig], model: str) -> dict[str, str]:
    """Provider id -> the model it is sent, for a requested model name.

    An alias means what each provider maps it to. Any other name is taken as a provider's
    own model (`gpt-4o`, as LiteLLM and Portkey users send it): the providers that map
    some alias to exactly that name serve it as is.
    """
    by_alias = {p.id: p.models[model] for p in providers if model in p.models}
    if by_alias:
        return by_alias
    return {p.id: model for p in providers if model in p.models.values()}


def unmet_needs(
    decision: PolicyDecision,
    alias: str,
    providers: Sequence[ProviderConfig],
    needs: frozenset[Feature],
) -> dict[str, list[Feature]]:
    """The allowed providers serving `alias` that cannot honour all of `needs`, each
    with the features it lacks (sorted): the candidates the plan skips, and why."""
    if not needs:
        return {}
    allowed = decision.allowed_redact
    serving = served_by(providers, alias)
    skipped = {}
    for p in providers:
        if p.id in allowed and p.id in serving:
            lacking = needs - adapter_features(p.adapter, serving[p.id])
            if lacking:
                skipped[p.id] = sorted(lacking)
    return skipped


def skipped_summary(skipped: Mapping[str, Sequence[Feature]], protocol: str = "openai") -> str:
    """ "p cannot honour a, b; q cannot honour c", the features named as the client's
    protocol names them: for error messages."""
    return "; ".join(
        f"{p} cannot honour {', '.join(feature_label(f, protocol) for f in features)}"
        for p, features in skipped.items()
    )


def feature_unavailable(
    alias: str,
    allowed: Sequence[str],
    skipped: Mapping[str, Sequence[Feature]],
    protocol: str,
) -> FeatureUnavailable | None:
    """The 400 for a request that no allowed provider can honour, naming the field of a
    feature none of them has (else of the first one missing); None if one could."""
    if not allowed or not all(p in skipped for p in allowed):
        return None
    needs = sorted({f for lacking in skipped.values() for f in lacking})
    nowhere = [f for f in needs if all(f in skipped[p] for p in allowed)]
    feature = (nowhere or list(skipped[allowed[0]]))[0]
    return FeatureUnavailable(
        f"no allowed provider for model {alias!r} can honour this request "
        f"({skipped_summary(skipped, protocol)})",
        param=feature_param(feature, protocol),
    )


def plan_route(
    decision: PolicyDecision,
    alias: str,
    providers: Sequence[ProviderConfig],
    health: Mapping[str, ProviderHealth],
    strategy: Strategy,
    needs: frozenset[Feature] = frozenset(),
) -> list[Candidate]:
    """allowed ∩ maps the alias ∩ honours the request's needs ∩ circuit not open,
    ordered by preference then strategy.

    `alias` is a configured alias or, failing that, a provider model (see `served_by`).
    Only the decision's allowed set is ever considered: nothing outside it can appear.
    """
    allowed = decision.allowed_redact  # the allowed providers, each with its redaction types
    eligible = [
        p
        for p in providers
        if p.id in allowed
        and alias in p.models
        and (not needs or needs <= adapter_features(p.adapter, p.models[alias]))
        and (p.id not in health or health[p.id].breaker.available())
    ]
    models: dict[str, str] | None = None
    if not eligible:
        # Not an alias of an allowed provider: a provider model, perhaps. Looked up only
        # here, so that planning an alias costs what it did.
        models = served_by(providers, alias)
        eligible = [
            p
            for p in providers
            if p.id in allowed
            and p.id in models
            and (not needs or needs <= adapter_features(p.adapter, models[p.id]))
            and (p.id not in health or health[p.id].breaker.available())
        ]
    order_providers(eligible, decision, strategy, health)
    if models is None:
        return [Candidate(p, p.models[alias], allowed[p.id]) for p in eligible]
    return [Candidate(p, models[p.id], allowed[p.id]) for p in eligible]


def order_providers(
    eligible: list[ProviderConfig],
    decision: PolicyDecision,
    strategy: Strategy,
    health: Mapping[str, ProviderHealth],
) -> None:
    """Sort in place: the decision's preference first, then the strategy."""
    if len(eligible) > 1:
        preference = decision.preference_rank
        eligible.sort(
            key=lambda p: (
                preference.get(p.id, len(preference)),
                *_strategy_key(p, strategy, health),
            )
        )


def next_candidate(remaining: Sequence[Candidate], failed: Sequence[Candidate]) -> Candidate:
    """The first remaining candidate, unless a later one avoids the failed failure domains.

    Outages are correlated: after a failure on (cloud, region), a candidate elsewhere is
    more likely to answer than the next one in the same place.
    """
    if failed:
        bad_domains = {c.failure_domain for c in failed}
        for candidate in remaining:
            if candidate.failure_domain not in bad_domains:
                return candidate
    return remaining[0]


def backoff_delay(
    round_index: int, base_s: float, max_s: float, retry_after: float | None, rng: random.Random
) -> float:
    """Full-jitter exponential backoff, never shorter than the provider's Retry-After."""
    ceiling = min(max_s, base_s * (2**round_index))
    delay = rng.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
