"""The fleet's metrics, on the sidecar's registry (labels never hold tenant or caller ids)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class FleetMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.redis_up = Gauge(
            "policy_engine_redis_up",
            "1 while Redis answers, 0 while its fallbacks are in use (absent without Redis)",
            registry=registry,
        )
        self.limit_refusals = Counter(
            "policy_engine_limit_refusals",
            "Requests refused by a limit, by scope (tenant, caller) and limit",
            ("scope", "limit"),
            registry=registry,
        )
        self.limits_fallback = Counter(
            "policy_engine_limits_fallback",
            "Limit checks made while Redis was unreachable, by feature and what was done "
            "(local, fail_closed, allow)",
            ("feature", "action"),
            registry=registry,
        )
        self.limits_unsettled = Counter(
            "policy_engine_limits_unsettled",
            "Requests whose used tokens and cost could not be added to the shared counters",
            registry=registry,
        )
        self.circuit_syncs = Counter(
            "policy_engine_shared_circuit_opens",
            "Circuits opened here because another replica opened them, by provider",
            ("provider",),
            registry=registry,
        )
