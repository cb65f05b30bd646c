"""OpenTelemetry GenAI semantic conventions: each provider call is a `chat {model}` client
span with `gen_ai.*` attributes, and the GenAI client metrics record tokens and durations,
read here through the SDK's in-memory exporter and reader."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from policy_engine.telemetry import GenAICall, provider_name, response_model
from tests.fakes import FakeProvider, Ok, RateLimited
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

TRACING = {"tracing": {"enabled": True, "exporter": "global"}}
BODY = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 50}


async def serve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    alpha: FakeProvider,
    bravo: FakeProvider,
    body: dict[str, Any],
) -> httpx.Response:
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("alpha", alpha, models={"default": "gpt-4o"}, priority=1),
            ProviderSpec("bravo", bravo, models={"default": "claude-sonnet"}, priority=2),
        ],
        logging=TRACING,
    )
    running = await start_sidecar(settings, monkeypatch)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            return await http.post(
                "/v1/chat/completions", json=body, headers={"X-Tenant-ID": "sandbox"}
            )
    finally:
        await running.stop()


def chat_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]


def points(reader: InMemoryMetricReader, name: str) -> list[HistogramDataPoint]:
    data = reader.get_metrics_data()
    found: list[HistogramDataPoint] = []
    if data is None:  # nothing recorded yet
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(
                        p for p in metric.data.data_points if isinstance(p, HistogramDataPoint)
                    )
    return found


def attributes_of(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_failed_then_answered_request_gives_two_genai_client_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    async with FakeProvider("openai") as alpha, FakeProvider("anthropic") as bravo:
        alpha.script(RateLimited(retry_after=None))
        bravo.script(Ok(usage=(21, 9), model="claude-sonnet-20250929"))
        response = await serve(tmp_path, monkeypatch, alpha, bravo, BODY)
    assert response.status_code == 200
    failed, answered = chat_spans(exporter)
    assert (failed.name, answered.name) == ("chat gpt-4o", "chat claude-sonnet")
    assert failed.kind is SpanKind.CLIENT and answered.kind is SpanKind.CLIENT
    assert attributes_of(failed) | {"error.type": "rate_limited"} == attributes_of(failed)
    assert attributes_of(failed)["gen_ai.provider.name"] == "openai"
    assert "gen_ai.usage.input_tokens" not in attributes_of(failed)
    assert {
        key: value for key, value in attributes_of(answered).items() if key.startswith("gen_ai.")
    } == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet",
        "gen_ai.request.max_tokens": 50,
        "gen_ai.response.model": "claude-sonnet-20250929",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 21,
        "gen_ai.usage.output_tokens": 9,
    }


async def test_a_streamed_answers_span_lasts_the_stream_and_carries_its_usage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    async with FakeProvider("openai") as alpha, FakeProvider("anthropic") as bravo:
        bravo.always(Ok(usage=(13, 5)))
        response = await serve(tmp_path, monkeypatch, alpha, bravo, {**BODY, "stream": True})
    assert response.status_code == 200
    (span,) = chat_spans(exporter)
    attributes = attributes_of(span)
    assert attributes["gen_ai.response.model"] == "gpt-4o"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (
        11,
        7,
    )
    request = next(s for s in exporter.get_finished_spans() if s.name == "request")
    assert span.parent is not None and span.parent.span_id == request.context.span_id


async def test_token_usage_and_duration_are_recorded_as_genai_client_metrics(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    metric_reader: InMemoryMetricReader,
    exporter: InMemorySpanExporter,
) -> None:
    async with FakeProvider("openai") as alpha, FakeProvider("anthropic") as bravo:
        alpha.script(RateLimited(retry_after=None))
        bravo.script(Ok(usage=(1234, 56)))
        # The histograms are cumulative over the run: note what was there before.
        before = token_counts(points(metric_reader, "gen_ai.client.token.usage"))
        await serve(tmp_path, monkeypatch, alpha, bravo, BODY)
    after = token_counts(points(metric_reader, "gen_ai.client.token.usage"))
    key_in = ("anthropic", "claude-sonnet", "input")
    key_out = ("anthropic", "claude-sonnet", "output")
    assert after[key_in][1] - before.get(key_in, (0, 0))[1] == 1234
    assert after[key_out][1] - before.get(key_out, (0, 0))[1] == 56
    durations = points(metric_reader, "gen_ai.client.operation.duration")
    failed = [p for p in durations if (p.attributes or {}).get("error.type") == "rate_limited"]
    answered = [
        p
        for p in durations
        if (p.attributes or {}).get("gen_ai.provider.name") == "anthropic"
        and "error.type" not in (p.attributes or {})
    ]
    assert failed and answered
    assert all(p.attributes and p.attributes["gen_ai.operation.name"] == "chat" for p in durations)


def token_counts(
    found: Sequence[HistogramDataPoint],
) -> dict[tuple[str, str, str], tuple[int, float]]:
    """(provider, request model, token type) -> (count of observations, sum of tokens)."""
    counts: dict[tuple[str, str, str], tuple[int, float]] = {}
    for point in found:
        a = point.attributes or {}
        key = (
            str(a["gen_ai.provider.name"]),
            str(a["gen_ai.request.model"]),
            str(a["gen_ai.token.type"]),
        )
        counts[key] = (point.count, point.sum)
    return counts


def test_an_error_is_recorded_as_a_duration_with_its_type_and_no_tokens() -> None:
    call = GenAICall("openai", "gpt-4o", 0.5, input_tokens=3, error_type="timeout")
    assert call.attributes() == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "error.type": "timeout",
    }


@pytest.mark.parametrize(
    ("adapter", "name"),
    [
        ("openai", "openai"),
        ("azure_openai", "azure.ai.openai"),
        ("anthropic", "anthropic"),
        ("gemini", "gcp.gemini"),
    ],
)
def test_provider_names_are_the_conventions_well_known_values(adapter: str, name: str) -> None:
    assert provider_name(adapter) == name


@pytest.mark.parametrize(
    ("reported", "read"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("", "gpt-4o"),
        ("gpt-4o\r\nX-Evil: 1", "gpt-4o"),
        ("m" * 500, "gpt-4o"),
        ("contact jane@example.com please", "gpt-4o"),
    ],
)
def test_a_providers_model_name_is_kept_only_when_it_reads_as_one(reported: str, read: str) -> None:
    assert response_model(reported, "gpt-4o") == read
