"""The names `POST /v1/embeddings` serves, each bound to one vector space, and the plan
for one request: allowed ∩ serves that model ∩ takes that many inputs ∩ circuit not open.

Every route is built once from the config and names the one model whose vectors it
returns, so no plan for it can hold a provider serving another model; only an alias
the config marks `model_agnostic` has no model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from adapters import embedding_max_inputs
from policy_engine._config import ProviderConfig, Settings
from policy_engine._config_embeddings import identity
from policy_engine.decision import PolicyDecision
from policy_engine.routing._health import ProviderHealth
from policy_engine.routing._plan import Candidate, Strategy, order_providers


@dataclass(frozen=True, slots=True)
class EmbeddingRoute:
    model: str | None  # the model identity every provider here serves; None: model-agnostic
    served: Mapping[str, str]  # provider id -> the provider model it is sent


def embedding_routes(settings: Settings) -> dict[str, EmbeddingRoute]:
    """Every name the embeddings route serves: the `embeddings` aliases; the models they
    name (`text-embedding-3-small`), served by every provider serving that model under
    any embedding alias; and the provider models they map to (an Azure deployment's
    name), where every provider mapping that name serves one model."""
    providers = settings.providers
    routes: dict[str, EmbeddingRoute] = {}
    pairs: list[tuple[ProviderConfig, str]] = []  # (provider, provider model), alias order
    for alias, entry in settings.embeddings.items():
        served = {p.id: p.models[alias] for p in providers if alias in p.models}
        first = next(p for p in providers if alias in p.models)
        model = None if entry.model_agnostic else identity(first, served[first.id])
        routes[alias] = EmbeddingRoute(model, served)
        pairs += [(p, p.models[alias]) for p in providers if alias in p.models]
    for model in _unique(identity(p, m) for p, m in pairs):
        if model not in routes:
            served = {}
            for p, m in pairs:
                if identity(p, m) == model:
                    served.setdefault(p.id, m)
            routes[model] = EmbeddingRoute(model, served)
    for name in _unique(m for _, m in pairs):
        models = {identity(p, m) for p, m in pairs if m == name}
        if name not in routes and len(models) == 1:
            routes[name] = EmbeddingRoute(models.pop(), {p.id: m for p, m in pairs if m == name})
    return routes


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def plan_embeddings(
    decision: PolicyDecision,
    route: EmbeddingRoute,
    providers: Sequence[ProviderConfig],
    health: Mapping[str, ProviderHealth],
    strategy: Strategy,
    inputs: int,
) -> list[Candidate]:
    """The candidates in the order they are tried; only the decision's allowed providers
    serving the route's model can appear."""
    allowed = decision.allowed_redact
    eligible = [
        p
        for p in providers
        if p.id in allowed
        and p.id in route.served
        and inputs <= max_inputs(p)
        and (p.id not in health or health[p.id].breaker.available())
    ]
    order_providers(eligible, decision, strategy, health)
    return [Candidate(p, route.served[p.id], allowed[p.id]) for p in eligible]


def max_inputs(provider: ProviderConfig) -> int:
    """The most inputs one call to this provider may carry."""
    return embedding_max_inputs(provider.adapter)


def too_many_inputs(
    decision: PolicyDecision,
    route: EmbeddingRoute,
    providers: Sequence[ProviderConfig],
    inputs: int,
) -> dict[str, int]:
    """The allowed providers of the route that cannot take `inputs` inputs in one call,
    each with its limit."""
    return {
        p.id: max_inputs(p)
        for p in providers
        if p.id in decision.allowed_redact and p.id in route.served and inputs > max_inputs(p)
    }
