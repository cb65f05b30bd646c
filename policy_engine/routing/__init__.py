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
from policy_engine.routing._embedding_calls import (
    EmbeddingResult,
    EmbeddingRouter,
    TextRedactor,
    redacted,
)
from policy_engine.routing._embedding_plan import (
    EmbeddingRoute,
    embedding_routes,
    max_inputs,
    plan_embeddings,
    too_many_inputs,
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
    "EmbeddingResult",
    "EmbeddingRoute",
    "EmbeddingRouter",
    "LatencyAverage",
    "NoProxy",
    "ProviderHealth",
    "Proxy",
    "RequestRedactor",
    "Reservation",
    "RouteResult",
    "Router",
    "StreamRoute",
    "TextRedactor",
    "UpstreamResponse",
    "UpstreamStream",
    "UpstreamTransport",
    "backoff_delay",
    "egress_from_settings",
    "embedding_routes",
    "feature_unavailable",
    "max_inputs",
    "next_candidate",
    "plan_embeddings",
    "plan_route",
    "redacted",
    "served_by",
    "skipped_summary",
    "tls_context",
    "too_many_inputs",
    "translate_error",
    "unmet_needs",
]
