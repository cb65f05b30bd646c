"""The same limit checks in this process alone: the fallback while Redis is down.

Each replica then enforces `limits.local_share` of every limit on its own, so with N
replicas up to N times that share can pass fleet-wide; what one replica counts here is
not added to Redis when it comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from policy_engine.fleet._checks import (
    NANO,
    WINDOW_S,
    BudgetAsk,
    CostSettle,
    RateAsk,
    TokenSettle,
    Verdict,
)

_MAX_KEYS = 100_000  # buckets and counters kept; the oldest half is dropped past it


class LocalLimits:
    def __init__(self, share: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._share = share
        self._clock = clock
        self._tats: dict[str, float] = {}  # bucket key -> theoretical arrival time (s)
        self._spent: dict[str, int] = {}  # budget key and window -> nano-dollars

    def _interval(self, limit: float) -> float:
        return WINDOW_S / (limit * self._share)

    async def admit(self, rates: Sequence[RateAsk], budgets: Sequence[BudgetAsk]) -> Verdict:
        now = self._clock()
        refused: int | None = None
        retry = 0.0
        arrivals: list[float] = []
        left: list[float] = []
        for index, ask in enumerate(rates):
            interval = self._interval(ask.check.limit)
            tat = max(self._tats.get(ask.check.key, now), now)
            new = tat + ask.cost * interval
            if refused is None and new - now > WINDOW_S:
                refused, retry = index, new - now - WINDOW_S
            arrivals.append(new)
            left.append((WINDOW_S - (new - now)) / WINDOW_S)
        for index, budget in enumerate(budgets):
            used = self._spent.get(f"{budget.check.key}:{budget.window}", 0)
            limit = round(budget.check.limit * self._share * NANO)
            if refused is None and budget.refuse and used >= limit:
                refused = len(rates) + index
            left.append(1 - used / limit)
        if refused is None:
            for ask, new in zip(rates, arrivals, strict=True):
                self._tats[ask.check.key] = new
            self._bound(self._tats)
        return Verdict(refused, retry, left)

    async def settle(self, tokens: Sequence[TokenSettle], costs: Sequence[CostSettle]) -> None:
        now = self._clock()
        for token in tokens:
            key = token.check.key
            tat = max(self._tats.get(key, now), now) + token.delta * self._interval(
                token.check.limit
            )
            if tat > now:
                self._tats[key] = tat
            else:
                self._tats.pop(key, None)
        for cost in costs:
            key = f"{cost.check.key}:{cost.window}"
            self._spent[key] = self._spent.get(key, 0) + cost.nano_usd
        self._bound(self._spent)

    @staticmethod
    def _bound(table: dict[str, float] | dict[str, int]) -> None:
        # Tenants are many and come and go; their state must not grow without end.
        if len(table) > _MAX_KEYS:
            for key in list(table)[: _MAX_KEYS // 2]:
                del table[key]
