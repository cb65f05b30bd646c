"""What a limit check asks and answers, shared by the Redis and the local backend.

Rate limits (requests and tokens per minute) are GCRA buckets: each holds at most a
minute's worth, refills continuously, and a request takes its cost from it at once.
Budgets (cost per UTC day and month) are counters per calendar window; a request is
checked against what was spent before it, and its cost is added once it is known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from policy_engine.fleet._settings import BUDGETS, LimitName

WINDOW_S = 60.0  # the rate limits are per minute
NANO = 1_000_000_000  # budgets are counted in nano-dollars: integers, added exactly


@dataclass(frozen=True, slots=True)
class Check:
    """One limit of one tenant or caller."""

    scope: str  # "tenant" or "caller"
    subject: str  # the tenant id or the caller's token name
    name: LimitName
    limit: float  # requests or tokens per minute, or US dollars per window
    key: str  # the Redis key (a budget's window is appended)

    @property
    def label(self) -> str:
        return f"{self.scope}:{self.name}"

    @property
    def is_budget(self) -> bool:
        return self.name in BUDGETS


@dataclass(frozen=True, slots=True)
class RateAsk:
    check: Check
    cost: float  # units taken now: 1 request, or the estimated tokens


@dataclass(frozen=True, slots=True)
class BudgetAsk:
    check: Check
    window: str  # "20250131" for a day, "202501" for a month
    ttl_s: int  # how long the window's counter is kept
    refuse: bool  # refuse when spent (else only report it, for the policy)


@dataclass(frozen=True, slots=True)
class Verdict:
    refused: int | None  # index into rates + budgets of the first refusing check
    retry_after_s: float
    # Per ask, rates then budgets, the share of the limit left: for a rate after this
    # request, for a budget before it (1 untouched, 0 or less used up).
    left: Sequence[float]


@dataclass(frozen=True, slots=True)
class TokenSettle:
    check: Check
    delta: float  # actual tokens minus the tokens reserved (may be negative)


@dataclass(frozen=True, slots=True)
class CostSettle:
    check: Check
    window: str
    ttl_s: int
    nano_usd: int


class LimitBackend(Protocol):
    async def admit(self, rates: Sequence[RateAsk], budgets: Sequence[BudgetAsk]) -> Verdict:
        """Take every rate ask's cost, all or none; refuse at the first that does not fit."""
        ...

    async def settle(self, tokens: Sequence[TokenSettle], costs: Sequence[CostSettle]) -> None:
        """Correct token reservations by what was used, and add spent cost to budgets."""
        ...


def budget_window(name: LimitName, now: datetime) -> tuple[str, int, float]:
    """The window id, how long to keep its counter, and the seconds until it ends."""
    now = now.astimezone(UTC)
    if name == "cost_per_day_usd":
        end = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return now.strftime("%Y%m%d"), 2 * 86_400, (end - now).total_seconds()
    first_of_next = (now.replace(day=1) + timedelta(days=32)).replace(
        day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return now.strftime("%Y%m"), 32 * 86_400, (first_of_next - now).total_seconds()
