"""Optional OpenTelemetry tracing: one span per pipeline stage, off by default.

Span attributes are ids, names, counts and outcomes only; never request content.
OpenTelemetry is an optional extra (`pip install 'policy-engine[tracing]'`), imported
only when tracing is switched on.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

AttributeValue = str | int | float | bool


class TracingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    exporter: Literal["otlp", "console", "global"] = Field(
        "otlp",
        description="otlp: OTLP/HTTP to endpoint; console: stdout; global: the process's "
        "already configured OpenTelemetry provider (e.g. set up by opentelemetry-instrument)",
    )
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "policy-engine"


class Span(Protocol):
    def set(self, key: str, value: AttributeValue | None) -> None: ...


class Tracer(Protocol):
    def span(self, name: str, attributes: Mapping[str, AttributeValue | None] | None = None) -> Any:
        """A context manager yielding a `Span`."""
        ...

    def close(self) -> None:
        """Flush and stop exporting."""
        ...


class _NoSpan:
    """A span that records nothing, and its own context manager: tracing off costs one
    method call per stage, not a generator-based context manager (0.15 against 0.73 µs)."""

    def set(self, key: str, value: AttributeValue | None) -> None:
        return None

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


class NoTracer:
    _span = _NoSpan()

    def close(self) -> None:
        return None

    def span(
        self, name: str, attributes: Mapping[str, AttributeValue | None] | None = None
    ) -> _NoSpan:
        return self._span


class _OtelSpan:
    def __init__(self, span: Any) -> None:
        self._span = span

    def set(self, key: str, value: AttributeValue | None) -> None:
        if value is not None:
            self._span.set_attribute(key, value)


class OtelTracer:
    def __init__(self, tracer: Any, provider: Any = None) -> None:
        self._tracer = tracer
        self._provider = provider  # ours to shut down; None for the global one

    def close(self) -> None:
        if self._provider is not None:
            self._provider.shutdown()

    @contextmanager
    def span(
        self, name: str, attributes: Mapping[str, AttributeValue | None] | None = None
    ) -> Iterator[Span]:
        clean = {k: v for k, v in (attributes or {}).items() if v is not None}
        with self._tracer.start_as_current_span(name, attributes=clean) as span:
            yield _OtelSpan(span)


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(
            "tracing is enabled but OpenTelemetry is not installed: "
            "pip install 'policy-engine[tracing]'"
        ) from None


def tracer_from_settings(settings: TracingSettings) -> Tracer:
    if not settings.enabled:
        return NoTracer()
    trace = _import("opentelemetry.trace")
    if settings.exporter == "global":
        return OtelTracer(trace.get_tracer("policy_engine"))
    sdk_trace = _import("opentelemetry.sdk.trace")
    export = _import("opentelemetry.sdk.trace.export")
    resources = _import("opentelemetry.sdk.resources")
    provider = sdk_trace.TracerProvider(
        resource=resources.Resource.create({"service.name": settings.service_name})
    )
    if settings.exporter == "console":
        exporter = export.ConsoleSpanExporter()
    else:
        otlp = _import("opentelemetry.exporter.otlp.proto.http.trace_exporter")
        exporter = otlp.OTLPSpanExporter(endpoint=settings.endpoint)
    provider.add_span_processor(export.BatchSpanProcessor(exporter))
    return OtelTracer(provider.get_tracer("policy_engine"), provider)
