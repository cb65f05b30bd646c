"""Every field of Anthropic's MessageCreateParams has a decision: carried into the request
the providers get, or refused with a 400 naming it."""

from __future__ import annotations

import typing
from typing import Any

import pytest
from anthropic.types import message_create_params

from adapters import (
    AnthropicClientCodec,
    CacheBreakpoint,
    ChatRequest,
    Feature,
    InvalidRequest,
    ResponseFormat,
    Thinking,
    requirements,
)

codec = AnthropicClientCodec()
TOOL = {"name": "f", "input_schema": {"type": "object"}}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
BASE: dict[str, Any] = {
    "model": "default",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hi"}],
}
# A meaningful value for every field of the SDK's request type, and the sampling fields
# the API still takes from older clients.
SAMPLES: dict[str, Any] = {
    "model": "smart",
    "messages": [{"role": "user", "content": "Hello"}],
    "max_tokens": 9,
    "cache_control": {"type": "ephemeral"},
    "container": "container_1",
    "diagnostics": {"previous_message_id": "msg_1"},
    "inference_geo": "us",
    "metadata": {"user_id": "user-1"},
    "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
    "service_tier": "standard_only",
    "speed": "fast",
    "stop_sequences": ["END"],
    "system": "Be brief.",
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "tool_choice": {"type": "any"},
    "tools": [TOOL],
    "user_profile_id": "profile-1",
    "workspace_id": "wrkspc_1",
    "stream": True,
    "temperature": 0.5,
    "top_p": 0.5,
    "top_k": 40,
}
COMPANIONS: dict[str, dict[str, Any]] = {"tool_choice": {"tools": [TOOL]}}


def sdk_fields() -> set[str]:
    hints = typing.get_type_hints(message_create_params.MessageCreateParamsNonStreaming)
    return set(hints) | {"temperature", "top_p", "top_k"}


def decode(**fields: Any) -> ChatRequest:
    return codec.decode_request(BASE | fields)


def test_every_field_of_the_sdk_request_type_has_a_sample() -> None:
    assert set(SAMPLES) == sdk_fields()


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_a_field_is_carried_or_refused_by_name(field: str) -> None:
    companions = COMPANIONS.get(field, {})
    baseline = decode(**companions)
    try:
        request = decode(**companions, **{field: SAMPLES[field]})
    except InvalidRequest as refused:
        assert refused.param is not None and refused.param.startswith(field)
        return
    assert request != baseline, field


@pytest.mark.parametrize(
    "field", ["container", "diagnostics", "user_profile_id", "workspace_id", "mcp_servers"]
)
def test_a_field_that_only_works_at_anthropic_itself_is_refused(field: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(**{field: SAMPLES.get(field, [{"type": "url"}])})
    assert caught.value.param == field


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(output_format={"type": "json_schema", "schema": SCHEMA})
    assert caught.value.param == "output_format"


def test_structured_output_is_a_strict_json_schema() -> None:
    request = decode(output_config={"format": {"type": "json_schema", "schema": SCHEMA}})
    assert request.response_format == ResponseFormat(SCHEMA, strict=True)
    assert requirements(request) == {Feature.JSON_SCHEMA}


def test_effort_is_reasoning_effort() -> None:
    request = decode(output_config={"effort": "high"})
    assert request.reasoning_effort == "high"
    assert requirements(request) == {Feature.REASONING_EFFORT}


@pytest.mark.parametrize(
    ("thinking", "expected", "feature"),
    [
        ({"type": "enabled", "budget_tokens": 2048}, Thinking("enabled", 2048), Feature.THINKING),
        (
            {"type": "adaptive", "display": "omitted"},
            Thinking("adaptive", None, "omitted"),
            Feature.THINKING,
        ),
        ({"type": "disabled"}, Thinking("disabled"), Feature.THINKING),
        ({"type": "between_tools"}, Thinking("between_tools"), Feature.THINKING_BETWEEN_TOOLS),
    ],
)
def test_thinking_is_carried_with_its_budget(
    thinking: dict[str, Any], expected: Thinking, feature: Feature
) -> None:
    request = decode(thinking=thinking)
    assert request.thinking == expected
    assert requirements(request) == {feature}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, "thinking.budget_tokens"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
        ({"output_config": {"format": {"type": "json_object"}}}, "output_config.format.type"),
        ({"output_config": {"effort": "minimal"}}, "output_config.effort"),
        ({"output_config": {"verbosity": "low"}}, "output_config.verbosity"),
        ({"service_tier": "priority"}, "service_tier"),
        ({"speed": "warp"}, "speed"),
        ({"inference_geo": "not a region!"}, "inference_geo"),
        ({"metadata": {"user_id": "u", "session": "s"}}, "metadata.session"),
        ({"cache_control": {"type": "persistent"}}, "cache_control.type"),
        ({"cache_control": {"type": "ephemeral", "ttl": "1d"}}, "cache_control.ttl"),
        ({"tools": [TOOL | {"input_examples": [{}]}]}, "tools[0].input_examples"),
        ({"top_k": 0}, "top_k"),
        ({"tool_choice": {"type": "auto", "disable_parallel_tool_use": "yes"}}, "tool_choice"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(**fields)
    assert caught.value.param is not None and caught.value.param.startswith(param)


def test_disable_parallel_tool_use_asks_for_serial_tool_calls() -> None:
    request = decode(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert request.parallel_tool_calls is False
    assert requirements(request) == {Feature.SERIAL_TOOL_CALLS}


def test_service_tiers_are_standard_or_auto_and_need_nothing() -> None:
    assert decode(service_tier="standard_only").service_tier == "standard"
    assert decode(service_tier="auto").service_tier == "auto"
    assert requirements(decode(service_tier="standard_only")) == frozenset()


def test_fast_mode_inference_geo_and_top_k_need_a_provider_that_has_them() -> None:
    request = decode(speed="fast", inference_geo="eu", top_k=20)
    assert (request.fast, request.inference_geo, request.top_k) == (True, "eu", 20)
    assert requirements(request) == {Feature.FAST_MODE, Feature.INFERENCE_GEO, Feature.TOP_K}


def test_strict_tools_are_carried() -> None:
    assert decode(tools=[TOOL | {"strict": True}]).strict_tools is True


def test_cache_control_is_kept_where_it_was_set() -> None:
    ttl = {"type": "ephemeral", "ttl": "1h"}
    request = decode(
        cache_control={"type": "ephemeral"},
        system=[{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": ttl}],
        tools=[TOOL | {"cache_control": {"type": "ephemeral"}}],
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "q", "cache_control": ttl}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "calling"},
                    {
                        "type": "tool_use",
                        "id": "t1",
                        "name": "f",
                        "input": {},
                        "cache_control": ttl,
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": "r",
                        "cache_control": ttl,
                    },
                    {"type": "text", "text": "and?", "cache_control": {"type": "ephemeral"}},
                ],
            },
        ],
    )
    assert set(request.cache) == {
        CacheBreakpoint("request"),
        CacheBreakpoint("system", 1, 0, "1h"),
        CacheBreakpoint("tools", 0),
        CacheBreakpoint("messages", 0, 0, "1h"),
        CacheBreakpoint("messages", 1, 1, "1h"),  # after the assistant's one text part
        CacheBreakpoint("messages", 2, 0, "1h"),  # the tool result, its own message
        CacheBreakpoint("messages", 3, 0),  # the text after it, the next message
    }
    assert requirements(request) == frozenset(), "caching is a cost hint: any provider serves"
