"""OpenTelemetry's GenAI semantic conventions for the sidecar's calls to providers.

Each attempt's span is named `chat {model}` and carries `gen_ai.*` attributes; each
call also records the `gen_ai.client.token.usage` and `gen_ai.client.operation.duration`
histograms, so GenAI dashboards (and their cost views) read the sidecar's telemetry as
they read an instrumented SDK's. Names, values and bucket boundaries follow
https://opentelemetry.io/docs/specs/semconv/gen-ai/ (development status).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from adapters import ChatRequest, Usage

OPERATION = "chat"
EMBEDDINGS = "embeddings"  # the operation name of an embeddings call

# gen_ai.provider.name's well-known values, by adapter: what an instrumented client of
# that API reports (an OpenAI-compatible server, such as vLLM, reports "openai").
_PROVIDER_NAMES = {
    "openai": "openai",
    "azure_openai": "azure.ai.openai",
    "anthropic": "anthropic",
    "gemini": "gcp.gemini",
    "bedrock": "aws.bedrock",
    "vertex": "gcp.vertex_ai",
}

USAGE_METRIC = "gen_ai.client.token.usage"
DURATION_METRIC = "gen_ai.client.operation.duration"
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)
DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)


# What a provider may call its model in a trace or an answer: a model name, nothing else.
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}")


def response_model(reported: str, requested: str) -> str:
    """The provider's own name for the model that answered (a dated snapshot, say) when
    it reads as a model name; else the model it was asked for."""
    return reported if _MODEL_NAME.fullmatch(reported) else requested


def provider_name(adapter: str) -> str:
    return _PROVIDER_NAMES.get(adapter, adapter)


def span_name(model: str, operation: str = OPERATION) -> str:
    return f"{operation} {model}"


class _Span(Protocol):
    def set(self, key: str, value: Any) -> None: ...


def call_attributes(
    provider_id: str, adapter: str, model: str, operation: str = OPERATION
) -> dict[str, Any]:
    """A provider call's span attributes: our provider id and the GenAI names."""
    return {
        "provider": provider_id,
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider_name(adapter),
        "gen_ai.request.model": model,
    }


def request_attributes(request: ChatRequest) -> dict[str, Any]:
    """The request's parameters under their GenAI names; never its content."""
    return {
        "stream": request.stream,
        "gen_ai.request.max_tokens": request.max_tokens,
        "gen_ai.request.temperature": request.temperature,
        "gen_ai.request.top_p": request.top_p,
    }


def set_answer(span: _Span, model: str, usage: Usage) -> None:
    """The answer's attributes: the model that answered (see `response_model`), its usage."""
    span.set("gen_ai.response.model", model)
    span.set("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set("gen_ai.usage.output_tokens", usage.output_tokens)


@dataclass(frozen=True, slots=True)
class GenAICall:
    """One call to a provider, as the GenAI client metrics describe it."""

    provider_name: str
    request_model: str
    duration_s: float
    response_model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_type: str | None = None  # the failure's kind; None for an answer
    operation: str = OPERATION

    def attributes(self) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": self.operation,
            "gen_ai.provider.name": self.provider_name,
            "gen_ai.request.model": self.request_model,
        }
        if self.response_model is not None:
            attributes["gen_ai.response.model"] = self.response_model
        if self.error_type is not None:
            attributes["error.type"] = self.error_type
        return attributes


class GenAIInstruments:
    """The two GenAI client histograms on an OpenTelemetry meter."""

    def __init__(self, meter: Any) -> None:
        self._tokens = meter.create_histogram(
            USAGE_METRIC,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        )
        self._duration = meter.create_histogram(
            DURATION_METRIC,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )

    def record(self, call: GenAICall) -> None:
        attributes = call.attributes()
        self._duration.record(call.duration_s, attributes)
        if call.error_type is not None:
            return
        for token_type, count in (("input", call.input_tokens), ("output", call.output_tokens)):
            if count is not None:
                self._tokens.record(count, {**attributes, "gen_ai.token.type": token_type})
