"""Prometheus metrics, one registry per app instance (no process-global state)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from policy_engine.telemetry._loop_metrics import LoopCounter, LoopHistogram

MetricT = TypeVar("MetricT", Counter, Gauge)

_CIRCUIT_VALUE = {"closed": 0, "half_open": 1, "open": 2}
_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)


class Children(Generic[MetricT]):
    """`metric.labels(*values)`, remembered per label tuple.

    prometheus_client validates the values and takes a lock on every `labels()` call,
    and the request path asks for the same few children on every request. A child is
    never removed from the metrics wrapped here, so the remembered one stays the one
    exported.
    """

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: MetricT) -> None:
        self._metric: MetricT = metric
        self._children: dict[tuple[str, ...], MetricT] = {}

    def __call__(self, *values: str) -> MetricT:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


class BufferBudget(Protocol):
    """The routing layer's answer budget, as the metrics read it."""

    limit: int
    held: int
    refusals: int


class _BudgetCollector(Collector):
    """Read at scrape time: the budget is plain numbers updated on the event loop."""

    def __init__(self, budget: BufferBudget) -> None:
        self._budget = budget

    def collect(self) -> Iterator[Metric]:
        budget = self._budget
        yield GaugeMetricFamily(
            "policy_engine_answer_buffer_bytes",
            "Provider-answer bytes held in memory now (routing.max_buffered_answer_bytes)",
            value=budget.held,
        )
        yield GaugeMetricFamily(
            "policy_engine_answer_buffer_limit_bytes",
            "routing.max_buffered_answer_bytes",
            value=budget.limit,
        )
        yield CounterMetricFamily(
            "policy_engine_answer_buffer_refusals",
            "Attempts failed as overloaded because the answer budget was full",
            value=budget.refusals,
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = LoopCounter(
            "policy_engine_requests",
            "Client requests by protocol and final outcome",
            ("protocol", "outcome"),
            registry=r,
        )
        self.request_seconds = LoopHistogram(
            "policy_engine_request_duration_seconds",
            "Time to the full answer",
            ("protocol",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.decisions = LoopCounter(
            "policy_engine_decisions", "Policy decisions by result", ("result",), registry=r
        )
        self.decision_seconds = LoopHistogram(
            "policy_engine_decision_duration_seconds",
            "Policy evaluation latency",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.policy_reloads = Counter(
            "policy_engine_policy_reloads",
            "Policy file changes: loaded, or refused (the old revision keeps serving)",
            ("result",),
            registry=r,
        )
        self.policy_errors = Counter(
            "policy_engine_policy_unavailable",
            "Decisions that failed closed, by cause",
            ("cause",),
            registry=r,
        )
        self.denials = LoopCounter(
            "policy_engine_provider_denials",
            "Providers denied by the policy, by provider and rule family (the reason's prefix)",
            ("provider", "rule"),
            registry=r,
        )
        self.provider_requests = LoopCounter(
            "policy_engine_provider_requests",
            "Attempts sent to a provider",
            ("provider",),
            registry=r,
        )
        self.provider_failures = Counter(
            "policy_engine_provider_failures",
            "Failed attempts by kind",
            ("provider", "kind"),
            registry=r,
        )
        self.provider_seconds = LoopHistogram(
            "policy_engine_provider_latency_seconds",
            "Attempt latency to the first answer byte",
            ("provider",),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = LoopCounter(
            "policy_engine_provider_tokens",
            "Tokens by provider and direction",
            ("provider", "direction"),
            registry=r,
        )
        self.cost = LoopCounter(
            "policy_engine_provider_cost_usd",
            "Estimated cost from the price attributes",
            ("provider",),
            registry=r,
        )
        self.circuit = Gauge(
            "policy_engine_circuit_state",
            "0 closed, 1 half-open, 2 open",
            ("provider",),
            registry=r,
        )
        self.misconfigured = Gauge(
            "policy_engine_provider_misconfigured",
            "1 while the provider's key is missing (it is never called) or after it rejected "
            "our credentials (401/403)",
            ("provider",),
            registry=r,
        )
        self.fallbacks = LoopCounter(
            "policy_engine_fallbacks",
            "Requests answered by other than the first candidate, by why (the X-Fallback value)",
            ("reason",),
            registry=r,
        )
        self.redactions = LoopCounter(
            "policy_engine_redactions",
            "Values redacted by entity type",
            ("entity_type",),
            registry=r,
        )
        self.audit_seconds = LoopHistogram(
            "policy_engine_audit_append_seconds",
            "Time until the audit record is durable",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.audit_healthy = Gauge(
            "policy_engine_audit_healthy", "1 while the audit log accepts records", registry=r
        )
        self.audit_failures = Counter(
            "policy_engine_audit_failures", "Audit records that could not be written", registry=r
        )
        # Updated on every request: plain numbers on the event loop (see _loop_metrics),
        # their children remembered by label values.
        self.requests_by = self.requests.labels
        self.request_seconds_by = self.request_seconds.labels
        self.decisions_by = self.decisions.labels
        self.denials_by = self.denials.labels
        self.provider_requests_by = self.provider_requests.labels
        self.provider_seconds_by = self.provider_seconds.labels
        self.tokens_by = self.tokens.labels
        self.cost_by = self.cost.labels
        self.fallbacks_by = self.fallbacks.labels
        self.redactions_by = self.redactions.labels
        # Off the request path, prometheus_client's own, through remembered children.
        # `misconfigured` is left out: it is cleared (tests reset it) and only set after
        # a 401/403.
        self.policy_errors_by = Children(self.policy_errors)
        self.provider_failures_by = Children(self.provider_failures)
        self._circuit_by = Children(self.circuit)

    def watch_answer_budget(self, budget: BufferBudget) -> None:
        self.registry.register(_BudgetCollector(budget))

    def set_circuit(self, provider: str, state: str) -> None:
        self._circuit_by(provider).set(_CIRCUIT_VALUE[state])

    def render(self) -> bytes:
        return generate_latest(self.registry)
