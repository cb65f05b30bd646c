"""Per-tenant and per-caller limits: admit a request, then settle what it used.

Admission asks the shared backend (Redis) to take the request's cost from every limit
that applies, all or none. While Redis is down, each feature does what
`limits.on_redis_unavailable` says: check locally, refuse (503), or let the request
through unchecked; the admission records which, so the audit record says it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters import Usage
from policy_engine._errors import LimitExceeded, LimitsUnavailable, PolicyEngineError
from policy_engine.fleet._checks import (
    NANO,
    BudgetAsk,
    Check,
    CostSettle,
    LimitBackend,
    RateAsk,
    TokenSettle,
    Verdict,
    budget_window,
)
from policy_engine.fleet._errors import SharedStateUnavailable
from policy_engine.fleet._local_limits import LocalLimits
from policy_engine.fleet._metrics import FleetMetrics
from policy_engine.fleet._settings import Limits, LimitsSettings
from policy_engine.telemetry import get_logger

_log = get_logger("policy_engine.fleet")
_SHORT = {
    "requests_per_minute": "rpm",
    "tokens_per_minute": "tpm",
    "cost_per_day_usd": "cpd",
    "cost_per_month_usd": "cpm",
}
_MAX_PLANS = 10_000


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What the policy sees as `input.budget`; hashable, so decisions stay cacheable."""

    exhausted: tuple[str, ...] = ()
    remaining: tuple[tuple[str, float], ...] = ()  # limit -> share left, in tenths

    def policy_input(self) -> dict[str, Any]:
        return {"exhausted": list(self.exhausted), "remaining": dict(self.remaining)}


NO_BUDGET = BudgetView()


@dataclass(slots=True)
class Admission:
    """One request's pass through the limits; audited with the request."""

    source: str  # "redis", "local", or "unchecked" (allowed while Redis was down)
    view: BudgetView = NO_BUDGET
    reserved_tokens: int = 0
    tokens: tuple[Check, ...] = ()  # token buckets holding this request's reservation
    budgets: tuple[BudgetAsk, ...] = ()  # budgets its cost is added to
    left: dict[str, float] = field(default_factory=dict)  # label -> share of the limit left
    fallback: str | None = None  # "redis_unavailable" when a fallback was taken
    refused: str | None = None  # the label of the limit that refused it
    error: PolicyEngineError | None = None

    def raise_if_refused(self) -> None:
        if self.error is not None:
            raise self.error

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fallback": self.fallback,
            "refused": self.refused,
            "reserved_tokens": self.reserved_tokens,
            "left": {label: round(share, 4) for label, share in sorted(self.left.items())},
            "exhausted": list(self.view.exhausted),
        }


@dataclass(frozen=True, slots=True)
class _Plan:
    rates: tuple[Check, ...]
    budgets: tuple[Check, ...]


class Limiter:
    def __init__(
        self,
        settings: LimitsSettings,
        shared: LimitBackend | None,
        prices: Mapping[str, tuple[float, float]],
        metrics: FleetMetrics,
        prefix: str = "pe:",
    ) -> None:
        self._settings = settings
        self._shared = shared
        self._local = LocalLimits(settings.local_share)
        self._prices = prices  # provider -> (USD per 1M input, per 1M output tokens)
        self._metrics = metrics
        self._prefix = prefix
        self._plans: dict[tuple[str, str | None], _Plan] = {}
        self._pending: list[tuple[Admission, int, int]] = []
        self._settling: asyncio.Task[None] | None = None

    # -- which limits apply --------------------------------------------------------

    def _checks(self, scope: str, subject: str, limits: Limits) -> list[Check]:
        tag = "t" if scope == "tenant" else "c"
        return [
            Check(scope, subject, name, value, f"{self._prefix}l:{tag}:{subject}:{_SHORT[name]}")
            for name, value in limits.values().items()
        ]

    def _plan(self, tenant: str, caller: str | None) -> _Plan:
        plan = self._plans.get((tenant, caller))
        if plan is None:
            tenant_limits = self._settings.tenants.get(tenant, self._settings.tenant_default)
            checks = self._checks("tenant", tenant, tenant_limits)
            if caller is not None and caller in self._settings.callers:
                checks += self._checks("caller", caller, self._settings.callers[caller])
            plan = _Plan(
                tuple(c for c in checks if not c.is_budget),
                tuple(c for c in checks if c.is_budget),
            )
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            self._plans[tenant, caller] = plan
        return plan

    # -- admission -------------------------------------------------------------------

    async def admit(
        self, tenant: str, caller: str | None, input_chars: int, max_tokens: int | None
    ) -> Admission | None:
        """None when no limit applies to this tenant and caller."""
        plan = self._plan(tenant, caller)
        if not plan.rates and not plan.budgets:
            return None
        tokens = math.ceil(input_chars / 4) + (max_tokens or self._settings.output_tokens_estimate)
        rates = [RateAsk(c, 1 if c.name == "requests_per_minute" else tokens) for c in plan.rates]
        now = datetime.now(UTC)
        refuse = self._settings.budget_exhausted == "refuse"
        budgets = [BudgetAsk(c, *budget_window(c.name, now)[:2], refuse) for c in plan.budgets]
        if self._shared is not None:
            try:
                verdict = await self._shared.admit(rates, budgets)
            except SharedStateUnavailable as down:
                return await self._fallback(rates, budgets, tokens, now, down.retry_after_s)
            return self._admission("redis", rates, budgets, verdict, tokens, now)
        verdict = await self._local.admit(rates, budgets)
        return self._admission("local", rates, budgets, verdict, tokens, now)

    async def _fallback(
        self,
        rates: list[RateAsk],
        budgets: list[BudgetAsk],
        tokens: int,
        now: datetime,
        retry_after_s: float,
    ) -> Admission:
        behaviour = self._settings.on_redis_unavailable
        for feature, asks, action in (
            ("rate_limits", rates, behaviour.rate_limits),
            ("budgets", budgets, behaviour.budgets),
        ):
            if asks:
                self._metrics.limits_fallback.labels(feature, action).inc()
            if asks and action == "fail_closed":
                admission = Admission("unchecked", fallback="redis_unavailable")
                admission.refused = f"{feature}:unavailable"
                admission.error = LimitsUnavailable(
                    f"the shared {feature.replace('_', ' ')} cannot be checked (Redis is "
                    "unreachable) and are set to fail closed",
                    retry_after_s,
                )
                return admission
        local_rates = rates if behaviour.rate_limits == "local" else []
        local_budgets = budgets if behaviour.budgets == "local" else []
        verdict = await self._local.admit(local_rates, local_budgets)
        source = "local" if local_rates or local_budgets else "unchecked"
        admission = self._admission(source, local_rates, local_budgets, verdict, tokens, now)
        admission.fallback = "redis_unavailable"
        return admission

    def _admission(
        self,
        source: str,
        rates: Sequence[RateAsk],
        budgets: Sequence[BudgetAsk],
        verdict: Verdict,
        tokens: int,
        now: datetime,
    ) -> Admission:
        asks: list[RateAsk | BudgetAsk] = [*rates, *budgets]
        left = {ask.check.label: share for ask, share in zip(asks, verdict.left, strict=True)}
        token_checks = tuple(a.check for a in rates if a.check.name == "tokens_per_minute")
        admission = Admission(source, reserved_tokens=tokens, tokens=token_checks, left=left)
        admission.budgets = tuple(budgets)
        if verdict.refused is not None:
            self._refuse(admission, asks[verdict.refused], verdict.retry_after_s, tokens, now)
            return admission
        admission.view = self._view(budgets, verdict.left[len(rates) :], left)
        return admission

    def _refuse(
        self,
        admission: Admission,
        ask: RateAsk | BudgetAsk,
        retry_after_s: float,
        tokens: int,
        now: datetime,
    ) -> None:
        check = ask.check
        admission.refused = check.label
        admission.tokens = ()  # nothing was taken, so nothing is settled
        admission.budgets = ()
        self._metrics.limit_refusals.labels(check.scope, check.name).inc()
        who = f"{check.scope} {check.subject!r} {check.name} ({check.limit:g})"
        if isinstance(ask, BudgetAsk):
            retry_after_s = budget_window(check.name, now)[2]
            message = f"budget used up: {who}"
        elif check.name == "tokens_per_minute" and tokens > check.limit:
            message = f"the request's estimated {tokens} tokens exceed {who}; lower max_tokens"
        else:
            message = f"rate limit reached: {who}"
        admission.error = LimitExceeded(message, check.label, retry_after_s)

    def _view(
        self, budgets: Sequence[BudgetAsk], shares: Sequence[float], left: Mapping[str, float]
    ) -> BudgetView:
        exhausted = sorted(
            {ask.check.name for ask, share in zip(budgets, shares, strict=True) if share <= 0}
        )
        if self._settings.policy_input == "exhausted":
            return BudgetView(tuple(exhausted)) if exhausted else NO_BUDGET
        lowest: dict[str, float] = {}
        for label, share in left.items():
            name = label.partition(":")[2]
            lowest[name] = min(lowest.get(name, 1.0), share)
        tenths = {name: math.floor(max(0.0, min(1.0, s)) * 10) / 10 for name, s in lowest.items()}
        return BudgetView(tuple(exhausted), tuple(sorted(tenths.items())))

    # -- settlement -----------------------------------------------------------------

    def settle(self, admission: Admission, provider: str | None, usage: Usage | None) -> None:
        """Queue the correction for what the request used; sent in batches, off the request."""
        if admission.source == "unchecked" or (not admission.tokens and not admission.budgets):
            return
        used = 0 if usage is None else usage.input_tokens + usage.output_tokens
        self._pending.append((admission, used, self._cost(provider, usage)))
        if self._settling is None:
            self._settling = asyncio.get_running_loop().create_task(self._settle_all())

    def _cost(self, provider: str | None, usage: Usage | None) -> int:
        if provider is None or usage is None or provider not in self._prices:
            return 0
        per_input, per_output = self._prices[provider]
        dollars = (usage.input_tokens * per_input + usage.output_tokens * per_output) / 1e6
        return round(dollars * NANO)

    async def _settle_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                for source in ("redis", "local"):
                    items = [item for item in batch if item[0].source == source]
                    if items:
                        await self._settle_batch(source, items)
        finally:
            self._settling = None

    async def _settle_batch(self, source: str, items: list[tuple[Admission, int, int]]) -> None:
        tokens: list[TokenSettle] = []
        costs: list[CostSettle] = []
        for admission, used, nano_usd in items:
            delta = used - admission.reserved_tokens
            tokens += [TokenSettle(check, delta) for check in admission.tokens if delta]
            if nano_usd:
                costs += [
                    CostSettle(ask.check, ask.window, ask.ttl_s, nano_usd)
                    for ask in admission.budgets
                ]
        if not tokens and not costs:
            return
        backend = self._shared if source == "redis" else self._local
        try:
            assert backend is not None
            await backend.settle(tokens, costs)
        except SharedStateUnavailable:
            self._metrics.limits_unsettled.inc(len(items))
            _log.warning("limits_unsettled", requests=len(items), reason="redis_unavailable")

    async def close(self) -> None:
        if self._settling is not None:
            await self._settling
