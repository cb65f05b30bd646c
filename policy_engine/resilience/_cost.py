"""The cost report: what the traffic in an audit log cost, who and what it was for, how
much of it fallbacks served, and what the mission's three strategies (single provider,
dual provider, primary + self-hosted fallback) would have cost on the same traffic, with
the availability the resilience report estimates for each.

Costs come from the outcome records (their token usage and the price each answer was
charged at); the strategies are priced with the provider catalog of a config.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from policy_engine._config import ProviderConfig, Settings
from policy_engine.resilience._domains import combined_availability, failure_domains

SECONDS_PER_MONTH = 30 * 24 * 3600
NO_TASK_CLASS = "(none)"


@dataclass(frozen=True, slots=True)
class Served:
    """One outcome record as the cost report reads it."""

    at: datetime
    tenant: str
    alias: str
    task_class: str
    answered: bool
    provider: str | None = None  # that answered
    first_provider: str | None = None  # of the first attempt
    fallback: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    price: tuple[float, float] | None = None  # USD per 1M input, output tokens

    @property
    def cost(self) -> float | None:
        return None if self.price is None else tokens_cost(self, self.price)


def tokens_cost(served: Served, price: tuple[float, float]) -> float:
    return (served.input_tokens * price[0] + served.output_tokens * price[1]) / 1_000_000


@dataclass(slots=True)
class Tally:
    requests: int = 0  # answered
    failed: int = 0  # recorded but not answered: refused, every provider failed, ...
    fallbacks: int = 0  # answered by other than the first candidate
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    fallback_cost: float = 0.0
    unpriced: int = 0  # with tokens but no price in the record

    def add(self, served: Served) -> None:
        if not served.answered:
            self.failed += 1
        else:
            self.requests += 1
            self.fallbacks += served.fallback is not None
        self.input_tokens += served.input_tokens
        self.output_tokens += served.output_tokens
        cost = served.cost
        if cost is None:
            self.unpriced += served.input_tokens + served.output_tokens > 0
            return
        self.cost += cost
        if served.fallback is not None:
            self.fallback_cost += cost

    @property
    def fallback_share(self) -> float | None:
        return self.fallbacks / self.requests if self.requests else None

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            "fallbacks": self.fallbacks,
            "fallback_share": self.fallback_share,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost,
            "fallback_cost_usd": self.fallback_cost,
            "unpriced": self.unpriced,
        }


@dataclass(frozen=True, slots=True)
class Strategy:
    """One of the mission's strategies priced on the report's traffic."""

    name: str
    providers: tuple[str, ...]  # primary first
    cost: float  # over the window, fixed costs included
    fixed_cost: float  # the fallback's fixed monthly cost, for the window
    monthly: float | None  # projected: the window's variable cost per month, plus fixed
    availability: float | None  # the resilience report's estimate over its failure domains
    served: int  # requests it could have answered
    requests: int
    unpriced: int  # requests it would serve at a provider without a price for the model
    fallback_model: str | None  # for the commonest alias of the traffic that it serves
    fallback_quality: float | None

    @property
    def served_share(self) -> float | None:
        return self.served / self.requests if self.requests else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "providers": list(self.providers),
            "cost_usd": self.cost,
            "fixed_cost_usd": self.fixed_cost,
            "monthly_usd": self.monthly,
            "availability": self.availability,
            "served": self.served,
            "served_share": self.served_share,
            "unpriced": self.unpriced,
            "fallback_model": self.fallback_model,
            "fallback_quality": self.fallback_quality,
        }


@dataclass(frozen=True, slots=True)
class CostReport:
    since: datetime | None
    until: datetime | None
    total: Tally
    by_tenant: dict[str, Tally]
    by_provider: dict[str, Tally]
    by_task_class: dict[str, Tally]
    fallback_reasons: dict[str, int]
    strategies: tuple[Strategy, ...] = ()
    notes: tuple[str, ...] = field(default=())  # why a strategy is missing, and the like

    @property
    def window_s(self) -> float:
        if self.since is None or self.until is None:
            return 0.0
        return max((self.until - self.since).total_seconds(), 0.0)

    @property
    def monthly(self) -> float | None:
        return per_month(self.total.cost, self.window_s)

    def to_json(self) -> dict[str, Any]:
        def table(rows: dict[str, Tally]) -> dict[str, Any]:
            return {key: tally.to_json() for key, tally in rows.items()}

        return {
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "window_s": self.window_s,
            "total": self.total.to_json(),
            "monthly_usd": self.monthly,
            "by_tenant": table(self.by_tenant),
            "by_provider": table(self.by_provider),
            "by_task_class": table(self.by_task_class),
            "fallback_reasons": dict(self.fallback_reasons),
            "strategies": [s.to_json() for s in self.strategies],
            "notes": list(self.notes),
        }


def per_month(cost: float, window_s: float) -> float | None:
    return cost * SECONDS_PER_MONTH / window_s if window_s > 0 else None


def _tallies(served: Iterable[Served], key: Any) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for item in served:
        name = key(item)
        if name is not None:
            tallies.setdefault(name, Tally()).add(item)
    return dict(sorted(tallies.items()))


def build_cost_report(
    served: Sequence[Served],
    since: datetime | None = None,
    until: datetime | None = None,
    settings: Settings | None = None,
    primary: str | None = None,
    secondary: str | None = None,
    self_hosted: str | None = None,
) -> CostReport:
    """The report over `served` (already cut to the window); strategies need `settings`."""
    moments = sorted(s.at for s in served)
    since = since or (moments[0] if moments else None)
    until = until or (moments[-1] if moments else None)
    total = Tally()
    for item in served:
        total.add(item)
    report = CostReport(
        since=since,
        until=until,
        total=total,
        by_tenant=_tallies(served, lambda s: s.tenant),
        by_provider=_tallies(served, lambda s: s.provider),
        by_task_class=_tallies(served, lambda s: s.task_class),
        fallback_reasons=dict(Counter(s.fallback for s in served if s.fallback).most_common()),
    )
    if settings is None:
        return _with(report, notes=("strategies need the provider catalog: pass --config",))
    strategies, notes = _strategies(
        [s for s in served if s.answered],
        report.window_s,
        settings,
        primary,
        secondary,
        self_hosted,
    )
    return _with(report, strategies=strategies, notes=notes)


def _with(
    report: CostReport, strategies: tuple[Strategy, ...] = (), notes: tuple[str, ...] = ()
) -> CostReport:
    return CostReport(
        report.since,
        report.until,
        report.total,
        report.by_tenant,
        report.by_provider,
        report.by_task_class,
        report.fallback_reasons,
        strategies,
        notes,
    )


def _strategies(
    answered: Sequence[Served],
    window_s: float,
    settings: Settings,
    primary: str | None,
    secondary: str | None,
    self_hosted: str | None,
) -> tuple[tuple[Strategy, ...], tuple[str, ...]]:
    catalog = {p.id: p for p in settings.providers}
    chosen = {"--primary": primary, "--secondary": secondary, "--self-hosted": self_hosted}
    for flag, pid in chosen.items():
        if pid is not None and pid not in catalog:
            raise ValueError(f"{flag} {pid!r} is not a provider of the config")
    firsts = Counter(s.first_provider for s in answered if s.first_provider in catalog)
    if primary is None:
        if not firsts:
            return (), ("no answered request names a provider of the config: no strategy",)
        primary = sorted(firsts.items(), key=lambda item: (-item[1], item[0]))[0][0]
    first = catalog[primary]
    secondary = secondary or _fallback_choice(
        answered, catalog, lambda p: not p.attributes.self_hosted and _apart(p, first)
    )
    self_hosted = self_hosted or _fallback_choice(
        answered, catalog, lambda p: p.attributes.self_hosted
    )
    plans: list[tuple[str, ProviderConfig | None]] = [("single provider", None)]
    notes: list[str] = []
    for name, pid, missing in (
        ("dual provider", secondary, "no second provider in another failure domain"),
        ("primary + self-hosted fallback", self_hosted, "no self-hosted provider"),
    ):
        if pid is None:
            notes.append(f"{name}: {missing} in the config")
        else:
            plans.append((name, catalog[pid]))
    aliases = [alias for alias, _ in Counter(s.alias for s in answered).most_common()]
    strategies = tuple(
        _priced(name, first, fallback, answered, window_s, aliases) for name, fallback in plans
    )
    return strategies, tuple(notes)


def _apart(provider: ProviderConfig, other: ProviderConfig) -> bool:
    """In another failure domain: a provider that does not say where it is counts as one."""
    a, b = provider.attributes, other.attributes
    return (a.cloud, a.region) != (b.cloud, b.region) or a.cloud is None or a.region is None


def _fallback_choice(
    answered: Sequence[Served], catalog: dict[str, ProviderConfig], fits: Any
) -> str | None:
    """The provider that fits and served the most fallbacks; else the cheapest that fits."""
    candidates = [p for p in catalog.values() if fits(p)]
    if not candidates:
        return None
    used = Counter(s.provider for s in answered if s.fallback is not None)

    def rank(p: ProviderConfig) -> tuple[int, float, str]:
        price = p.price(p.models["default"])
        return (-used[p.id], sum(price) if price else float("inf"), p.id)

    return min(candidates, key=rank).id


def _priced(
    name: str,
    primary: ProviderConfig,
    fallback: ProviderConfig | None,
    answered: Sequence[Served],
    window_s: float,
    aliases: Sequence[str],
) -> Strategy:
    """The requests that did not need a fallback go to the primary; those that did go to
    the fallback, or are lost without one."""
    cost, served, unpriced = 0.0, 0, 0
    for item in answered:
        provider = primary if item.fallback is None else fallback
        model = None if provider is None else provider.models.get(item.alias)
        if provider is None or model is None:
            continue
        served += 1
        price = provider.price(model)
        if price is None:
            unpriced += 1
        else:
            cost += tokens_cost(item, price)
    fixed_monthly = (fallback.attributes.cost_per_month or 0.0) if fallback else 0.0
    fixed = fixed_monthly * window_s / SECONDS_PER_MONTH
    variable_monthly = per_month(cost, window_s)
    providers = [primary] if fallback is None else [primary, fallback]
    # The fallback's model for the commonest alias of the traffic that it serves.
    served_aliases = [] if fallback is None else [a for a in aliases if a in fallback.models]
    fallback_model = fallback.models[served_aliases[0]] if fallback and served_aliases else None
    return Strategy(
        name=name,
        providers=tuple(p.id for p in providers),
        cost=cost + fixed,
        fixed_cost=fixed,
        monthly=None if variable_monthly is None else variable_monthly + fixed_monthly,
        availability=combined_availability(failure_domains(providers)),
        served=served,
        requests=len(answered),
        unpriced=unpriced,
        fallback_model=None
        if fallback is None or fallback_model is None
        else fallback.model_facts(fallback_model).model or fallback_model,
        fallback_quality=None
        if fallback is None or fallback_model is None
        else fallback.model_facts(fallback_model).quality,
    )
