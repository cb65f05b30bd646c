"""Logs, metrics and traces."""

from policy_engine.telemetry._genai import (
    EMBEDDINGS,
    OPERATION,
    GenAICall,
    call_attributes,
    provider_name,
    request_attributes,
    response_model,
    set_answer,
    span_name,
)
from policy_engine.telemetry._logging import EventLogger, configure_logging, get_logger
from policy_engine.telemetry._metrics import Metrics
from policy_engine.telemetry._tracing import (
    AttributeValue,
    LiveSpan,
    NoTracer,
    OtelTracer,
    Span,
    SpanKind,
    Tracer,
    TracingSettings,
    attempt_span,
    embeddings_span,
    tracer_from_settings,
)

__all__ = [
    "EMBEDDINGS",
    "OPERATION",
    "AttributeValue",
    "EventLogger",
    "GenAICall",
    "LiveSpan",
    "Metrics",
    "NoTracer",
    "OtelTracer",
    "Span",
    "SpanKind",
    "Tracer",
    "TracingSettings",
    "attempt_span",
    "call_attributes",
    "configure_logging",
    "embeddings_span",
    "get_logger",
    "provider_name",
    "request_attributes",
    "response_model",
    "set_answer",
    "span_name",
    "tracer_from_settings",
]
