"""Optional tracing: a span per stage when on, nothing when off, never request content."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from policy_engine.telemetry import (
    GenAICall,
    NoTracer,
    OtelTracer,
    TracingSettings,
    tracer_from_settings,
)
from tests.fakes import FakeProvider, ServerError
from tests.sidecar import ProviderSpec, build_settings, chat_once

SECRET_TEXT = "contact ada@example.com about invoice 4242"


def test_tracing_is_off_by_default() -> None:
    assert isinstance(tracer_from_settings(TracingSettings()), NoTracer)


def test_the_console_exporter_builds_spans_and_genai_metrics_and_closes() -> None:
    # What it prints is not read here: the console exporters hold the stdout they were
    # imported with. The in-memory exporter and reader tests check the content.
    tracer = tracer_from_settings(TracingSettings(enabled=True, exporter="console"))
    assert isinstance(tracer, OtelTracer)
    with tracer.start("chat m", {"gen_ai.request.model": "m"}, kind="client") as span:
        span.set("gen_ai.usage.input_tokens", 3)
    tracer.gen_ai(GenAICall("openai", "m", 0.25, "m", 3, 4))
    tracer.close()


async def test_each_stage_and_attempt_gets_a_span_without_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    async with FakeProvider("openai") as bad, FakeProvider("anthropic") as good:
        bad.script(ServerError(500))
        settings = build_settings(
            tmp_path,
            [ProviderSpec("bad", bad, priority=1), ProviderSpec("good", good, priority=2)],
            logging={"tracing": {"enabled": True, "exporter": "global"}},
        )
        body = {"model": "default", "messages": [{"role": "user", "content": SECRET_TEXT}]}
        response, _ = await chat_once(settings, monkeypatch, body, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    names = [s.name for s in spans]
    assert names.count("chat test-model") == 2
    assert {"decision", "intent", "audit", "request"} <= set(names)
    request = next(s for s in spans if s.name == "request")
    assert request.attributes is not None
    assert request.attributes["provider"] == "good"
    assert request.attributes["outcome"] == "answered"
    outcomes = [
        s.attributes["outcome"] for s in spans if s.name == "chat test-model" and s.attributes
    ]
    assert outcomes == ["server_error", "ok"]
    everything = " ".join(str(dict(s.attributes or {})) for s in spans)
    assert "ada@example.com" not in everything and "invoice" not in everything
