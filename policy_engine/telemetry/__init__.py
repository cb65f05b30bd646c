"""Logs and metrics."""

from policy_engine.telemetry._logging import EventLogger, configure_logging, get_logger
from policy_engine.telemetry._metrics import Metrics
from policy_engine.telemetry._tracing import (
    NoTracer,
    OtelTracer,
    Span,
    Tracer,
    TracingSettings,
    tracer_from_settings,
)

__all__ = [
    "EventLogger",
    "Metrics",
    "NoTracer",
    "OtelTracer",
    "Span",
    "Tracer",
    "TracingSettings",
    "configure_logging",
    "get_logger",
    "tracer_from_settings",
]
