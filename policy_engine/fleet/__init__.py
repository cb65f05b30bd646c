"""State a fleet of sidecars shares through Redis: per-tenant and per-caller limits and
budgets, and provider circuits; each with a configured fallback while Redis is down.
"""

from policy_engine.fleet._checks import (
    BudgetAsk,
    Check,
    CostSettle,
    LimitBackend,
    RateAsk,
    TokenSettle,
    Verdict,
    budget_window,
)
from policy_engine.fleet._circuits import CircuitSync
from policy_engine.fleet._fleet import Fleet
from policy_engine.fleet._limiter import NO_BUDGET, Admission, BudgetView, Limiter
from policy_engine.fleet._local_limits import LocalLimits
from policy_engine.fleet._metrics import FleetMetrics
from policy_engine.fleet._redis import Script, SharedState, SharedStateUnavailable
from policy_engine.fleet._redis_limits import RedisLimits
from policy_engine.fleet._settings import (
    CircuitSettings,
    FleetSettings,
    Limits,
    LimitsSettings,
    RedisSettings,
    UnavailableBehaviour,
)

__all__ = [
    "NO_BUDGET",
    "Admission",
    "BudgetAsk",
    "BudgetView",
    "Check",
    "CircuitSettings",
    "CircuitSync",
    "CostSettle",
    "Fleet",
    "FleetMetrics",
    "FleetSettings",
    "LimitBackend",
    "Limiter",
    "Limits",
    "LimitsSettings",
    "LocalLimits",
    "RateAsk",
    "RedisLimits",
    "RedisSettings",
    "Script",
    "SharedState",
    "SharedStateUnavailable",
    "TokenSettle",
    "UnavailableBehaviour",
    "Verdict",
    "budget_window",
]
