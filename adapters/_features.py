"""What a request needs from a provider beyond plain chat, and the field that asked for it.

A provider codec declares the features it can honour; the route plan skips every
candidate that cannot honour all of a request's features, so a feature is never
accepted and then dropped. Features that every adapter honours (messages, tools,
max_tokens, temperature up to 1, top_p, stop, streaming) need no entry here.
"""

from __future__ import annotations

from enum import StrEnum

from adapters._model import ChatRequest


class Feature(StrEnum):
    """Named after the request field (OpenAI's spelling) and, where it matters, its value."""

    JSON_OBJECT = "response_format=json_object"
    JSON_SCHEMA = "response_format=json_schema"
    SEED = "seed"
    PRESENCE_PENALTY = "presence_penalty"
    FREQUENCY_PENALTY = "frequency_penalty"
    LOGIT_BIAS = "logit_bias"
    LOGPROBS = "logprobs"
    TOP_K = "top_k"
    TEMPERATURE_ABOVE_1 = "temperature>1"
    SERIAL_TOOL_CALLS = "parallel_tool_calls=false"
    TOOL_CHOICE_NONE = "tool_choice=none"  # tools offered, none to be called
    STRICT_TOOLS = "tools.strict"
    SERVICE_TIER = "service_tier"  # a tier other than auto and standard
    REASONING_EFFORT = "reasoning_effort"  # low, medium or high
    REASONING_NONE = "reasoning_effort=none"
    REASONING_MINIMAL = "reasoning_effort=minimal"
    REASONING_MAX = "reasoning_effort=xhigh/max"
    THINKING = "thinking"
    THINKING_BETWEEN_TOOLS = "thinking=between_tools"
    VERBOSITY = "verbosity"
    INFERENCE_GEO = "inference_geo"
    FAST_MODE = "speed=fast"


_REASONING: dict[str, Feature] = {
    "none": Feature.REASONING_NONE,
    "minimal": Feature.REASONING_MINIMAL,
    "low": Feature.REASONING_EFFORT,
    "medium": Feature.REASONING_EFFORT,
    "high": Feature.REASONING_EFFORT,
    "xhigh": Feature.REASONING_MAX,
    "max": Feature.REASONING_MAX,
}


def requirements(request: ChatRequest) -> frozenset[Feature]:
    """The features `request` asks for; empty for a plain chat request."""
    needs: list[Feature] = []
    if request.response_format is not None:
        schema = request.response_format.schema
        needs.append(Feature.JSON_OBJECT if schema is None else Feature.JSON_SCHEMA)
    if request.seed is not None:
        needs.append(Feature.SEED)
    if request.presence_penalty is not None:
        needs.append(Feature.PRESENCE_PENALTY)
    if request.frequency_penalty is not None:
        needs.append(Feature.FREQUENCY_PENALTY)
    if request.logit_bias:
        needs.append(Feature.LOGIT_BIAS)
    if request.logprobs:
        needs.append(Feature.LOGPROBS)
    if request.top_k is not None:
        needs.append(Feature.TOP_K)
    if request.temperature is not None and request.temperature > 1:
        needs.append(Feature.TEMPERATURE_ABOVE_1)
    if request.parallel_tool_calls is False and request.tools:
        needs.append(Feature.SERIAL_TOOL_CALLS)
    if request.tool_choice == "none" and request.tools:
        needs.append(Feature.TOOL_CHOICE_NONE)
    if request.strict_tools and request.tools:
        needs.append(Feature.STRICT_TOOLS)
    if request.service_tier is not None and request.service_tier not in ("auto", "standard"):
        needs.append(Feature.SERVICE_TIER)
    if request.reasoning_effort is not None:
        needs.append(_REASONING[request.reasoning_effort])
    if request.thinking is not None:
        between = request.thinking.type == "between_tools"
        needs.append(Feature.THINKING_BETWEEN_TOOLS if between else Feature.THINKING)
    if request.verbosity is not None:
        needs.append(Feature.VERBOSITY)
    if request.inference_geo is not None:
        needs.append(Feature.INFERENCE_GEO)
    if request.fast:
        needs.append(Feature.FAST_MODE)
    return frozenset(needs)


# The field that asks for each feature, as each client protocol spells it.
_PARAMS: dict[str, dict[Feature, str]] = {
    "openai": {
        Feature.JSON_OBJECT: "response_format",
        Feature.JSON_SCHEMA: "response_format",
        Feature.TEMPERATURE_ABOVE_1: "temperature",
        Feature.SERIAL_TOOL_CALLS: "parallel_tool_calls",
        Feature.TOOL_CHOICE_NONE: "tool_choice",
        Feature.STRICT_TOOLS: "tools",
        Feature.REASONING_NONE: "reasoning_effort",
        Feature.REASONING_MINIMAL: "reasoning_effort",
        Feature.REASONING_MAX: "reasoning_effort",
    },
    "responses": {
        Feature.JSON_OBJECT: "text.format",
        Feature.JSON_SCHEMA: "text.format",
        Feature.LOGPROBS: "include",
        Feature.TEMPERATURE_ABOVE_1: "temperature",
        Feature.SERIAL_TOOL_CALLS: "parallel_tool_calls",
        Feature.STRICT_TOOLS: "tools",
        Feature.REASONING_EFFORT: "reasoning.effort",
        Feature.REASONING_NONE: "reasoning.effort",
        Feature.REASONING_MINIMAL: "reasoning.effort",
        Feature.REASONING_MAX: "reasoning.effort",
        Feature.VERBOSITY: "text.verbosity",
    },
    "anthropic": {
        Feature.JSON_SCHEMA: "output_config.format",
        Feature.SERIAL_TOOL_CALLS: "tool_choice.disable_parallel_tool_use",
        Feature.TOOL_CHOICE_NONE: "tool_choice",
        Feature.STRICT_TOOLS: "tools",
        Feature.SERVICE_TIER: "service_tier",
        Feature.REASONING_EFFORT: "output_config.effort",
        Feature.REASONING_MAX: "output_config.effort",
        Feature.THINKING_BETWEEN_TOOLS: "thinking",
        Feature.FAST_MODE: "speed",
    },
}


def feature_param(feature: Feature, protocol: str) -> str:
    """The request field that asked for `feature`, in the client's protocol."""
    return _PARAMS.get(protocol, {}).get(feature) or feature.value


def feature_label(feature: Feature, protocol: str) -> str:
    """How to name `feature` to a client: its value for OpenAI clients (field and
    value, with the Responses API's field), the field as the client's protocol spells
    it otherwise."""
    if protocol == "openai":
        return feature.value
    field = _PARAMS.get(protocol, {}).get(feature)
    if field is None:
        return feature.value
    _, valued, value = feature.value.partition("=")
    return f"{field}={value}" if protocol == "responses" and valued else field
