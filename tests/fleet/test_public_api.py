"""The fleet package's public surface, pinned: changing it is a deliberate act."""

from __future__ import annotations

import policy_engine.fleet as fleet


def test_public_names_are_exactly_these() -> None:
    assert set(fleet.__all__) == {
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
    }
    for name in fleet.__all__:
        assert getattr(fleet, name) is not None
