"""Route plans, attempts, retries, fallback and the upstream transport."""

from policy_engine.routing._budget import AnswerBudget, Reservation
from policy_engine.routing._egress import (
    Egress,
    EgressTable,
    NoProxy,
    Proxy,
    egress_from_settings,
    tls_context,
)
from policy_engine.routing._health import (
    CircuitBreaker,
    CircuitState,
    LatencyAverage,
    ProviderHealth,
)
from policy_engine.routing._plan import (
    Candidate,
    backoff_delay,
    feature_unavailable,
    next_candidate,
    plan_route,
    served_by,
    skipped_summary,
    unmet_needs,
)
from policy_engine.routing._router import Attempt, RequestRedactor, Router, RouteResult, StreamRoute
from policy_engine.routing._transport import (
    UpstreamResponse,
    UpstreamStream,
    UpstreamTransport,
    translate_error,
)

__all__ = [
    "AnswerBudget",
    "Attempt",
    "Candidate",
    "CircuitBreaker",
    "CircuitState",
    "Egress",
    "EgressTable",
    "LatencyAverage",
    "NoProxy",
    "ProviderHealth",
    "Proxy",
    "RequestRedactor",
    "Reservation",
    "RouteResult",
    "Router",
    "StreamRoute",
    "UpstreamResponse",
    "UpstreamStream",
    "UpstreamTransport",
    "backoff_delay",
    "egress_from_settings",
    "feature_unavailable",
    "next_candidate",
    "plan_route",
    "served_by",
    "skipped_summary",
    "tls_context",
    "translate_error",
    "unmet_needs",
]
