"""State a fleet of sidecars shares through Redis: per-tenant and per-caller limits and
budgets, and provider circuits; each with a configured fallback while Redis is down.
"""

import importlib
from typing import TYPE_CHECKING

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
from policy_engine.fleet._errors import SharedStateUnavailable
from policy_engine.fleet._fleet import Fleet
from policy_engine.fleet._limiter import NO_BUDGET, Admission, BudgetView, Limiter
from policy_engine.fleet._local_limits import LocalLimits
from policy_engine.fleet._metrics import FleetMetrics
from policy_engine.fleet._settings import (
    CircuitSettings,
    FleetSettings,
    Limits,
    LimitsSettings,
    RedisSettings,
    UnavailableBehaviour,
)

if TYPE_CHECKING:
    from policy_engine.fleet._redis import Script, SharedState
    from policy_engine.fleet._redis_limits import RedisLimits

# Imported on first use, not with the package: redis-py takes tens of MB per process, and
# most deployments run without Redis.
_ON_USE = {
    "RedisLimits": "policy_engine.fleet._redis_limits",
    "Script": "policy_engine.fleet._redis",
    "SharedState": "policy_engine.fleet._redis",
}


def __getattr__(name: str) -> object:
    module = _ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
