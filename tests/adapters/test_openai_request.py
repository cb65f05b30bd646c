"""Every field of OpenAI's CreateChatCompletionRequest has a decision: carried into the
request the providers get, refused with a 400 naming it, or documented as advisory."""

from __future__ import annotations

from typing import Any

import pytest

from adapters import (
    ChatRequest,
    Feature,
    ImagePart,
    InvalidRequest,
    OpenAIClientCodec,
    PromptCache,
    ResponseFormat,
    TextPart,
    requirements,
)
from tests.conformance._validators import openai_request_fields

codec = OpenAIClientCodec()
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}

# A meaningful value for every field of the published request schema.
SAMPLES: dict[str, Any] = {
    "messages": [{"role": "user", "content": "Hello"}],
    "model": "smart",
    "modalities": ["text", "audio"],
    "reasoning_effort": "low",
    "verbosity": "low",
    "max_completion_tokens": 9,
    "max_tokens": 9,
    "frequency_penalty": 0.5,
    "presence_penalty": 0.5,
    "web_search_options": {},
    "top_logprobs": 2,
    "logprobs": True,
    "response_format": {"type": "json_object"},
    "audio": {"voice": "alloy", "format": "mp3"},
    "store": True,
    "metadata": {"team": "a"},
    "moderation": {"model": "omni-moderation-latest"},
    "stream": True,
    "stream_options": {"include_usage": True},
    "stop": ["END"],
    "logit_bias": {"50256": -100},
    "n": 2,
    "prediction": {"type": "content", "content": "draft"},
    "seed": 7,
    "tools": [TOOL],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "function_call": "auto",
    "functions": [{"name": "f"}],
    "temperature": 0.3,
    "top_p": 0.5,
    "user": "user-1",
    "safety_identifier": "hash-1",
    "prompt_cache_key": "key-1",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {"ttl": "30m"},
    "service_tier": "flex",
}
# Accepted without changing what is sent: each one's reason is in README "Request fields".
ADVISORY = {"metadata"}
# Fields that only mean something beside another one.
COMPANIONS: dict[str, dict[str, Any]] = {
    "top_logprobs": {"logprobs": True},
    "stream_options": {"stream": True},
    "tool_choice": {"tools": [TOOL]},
    "parallel_tool_calls": {"tools": [TOOL]},
}
BASE: dict[str, Any] = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}


def decode(**fields: Any) -> ChatRequest:
    return codec.decode_request(BASE | fields)


def test_every_field_of_the_published_request_schema_has_a_sample() -> None:
    assert set(SAMPLES) == openai_request_fields()


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_a_field_is_carried_refused_by_name_or_documented_advisory(field: str) -> None:
    companions = COMPANIONS.get(field, {})
    baseline = decode(**companions)
    try:
        request = decode(**companions, **{field: SAMPLES[field]})
    except InvalidRequest as refused:
        assert refused.param is not None and refused.param.startswith(field)
        return
    assert (request != baseline) != (field in ADVISORY), field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("audio", {"voice": "alloy", "format": "mp3"}),
        ("web_search_options", {}),
        ("moderation", {"model": "omni-moderation-latest"}),
        ("functions", [{"name": "f"}]),
        ("function_call", "auto"),
        ("store", True),
        ("n", 2),
        ("modalities", ["text", "audio"]),
    ],
)
def test_a_field_the_sidecar_cannot_serve_is_refused_by_name(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(**{field: value})
    assert caught.value.param == field


@pytest.mark.parametrize(
    "fields",
    [{"store": False}, {"n": 1}, {"modalities": ["text"]}, {"metadata": {"k": "v"}}],
)
def test_a_value_that_asks_for_nothing_beyond_plain_chat_is_accepted(
    fields: dict[str, Any],
) -> None:
    assert decode(**fields) == decode()


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(frobnicate=1)
    assert caught.value.param == "frobnicate"
    assert "frobnicate" in caught.value.message


def test_an_unknown_field_set_to_null_asks_for_nothing() -> None:
    assert decode(frobnicate=None) == decode()


def test_an_unknown_field_whose_name_is_not_a_name_is_not_echoed() -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(**{"jane.roe@example.org": 1})
    assert "jane" not in caught.value.message and "jane" not in str(caught.value.param)


def test_json_schema_becomes_a_response_format_with_its_name_and_strictness() -> None:
    spec = {"name": "answer", "schema": SCHEMA, "strict": True, "description": "the answer"}
    request = decode(response_format={"type": "json_schema", "json_schema": spec})
    assert request.response_format == ResponseFormat(SCHEMA, "answer", "the answer", True)
    assert requirements(request) == {Feature.JSON_SCHEMA}


def test_json_object_is_json_mode_without_a_schema() -> None:
    request = decode(response_format={"type": "json_object"})
    assert request.response_format == ResponseFormat()
    assert requirements(request) == {Feature.JSON_OBJECT}


def test_text_response_format_asks_for_nothing() -> None:
    assert decode(response_format={"type": "text"}).response_format is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a b"}}},
            "response_format.json_schema.name",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "a", "x": 1}}},
            "response_format.json_schema.x",
        ),
        ({"seed": 1.5}, "seed"),
        ({"presence_penalty": 3}, "presence_penalty"),
        ({"frequency_penalty": -3}, "frequency_penalty"),
        ({"logit_bias": {"word": 1}}, "logit_bias"),
        ({"logit_bias": {"1": 101}}, "logit_bias.1"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs"),
        ({"service_tier": "gold"}, "service_tier"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"verbosity": "loud"}, "verbosity"),
        ({"prediction": {"type": "diff", "content": "x"}}, "prediction.type"),
        ({"metadata": {f"k{n}": "v" for n in range(17)}}, "metadata"),
        ({"metadata": {"k": "v" * 513}}, "metadata"),
        ({"prompt_cache_options": {"ttl": "1d"}}, "prompt_cache_options.ttl"),
        ({"stream": True, "stream_options": {"include_nothing": True}}, "stream_options"),
        ({"tools": [TOOL | {"function": TOOL["function"] | {"strict": "yes"}}]}, "tools[0]"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        decode(**fields)
    assert caught.value.param is not None and caught.value.param.startswith(param)


def test_sampling_fields_are_carried() -> None:
    request = decode(
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=3,
    )
    assert (request.seed, request.presence_penalty, request.frequency_penalty) == (7, 0.5, -0.5)
    assert request.logit_bias == {"50256": -100}
    assert (request.logprobs, request.top_logprobs) == (True, 3)
    assert requirements(request) == {
        Feature.SEED,
        Feature.PRESENCE_PENALTY,
        Feature.FREQUENCY_PENALTY,
        Feature.LOGIT_BIAS,
        Feature.LOGPROBS,
    }


def test_openai_default_service_tier_is_the_standard_tier_and_needs_nothing() -> None:
    request = decode(service_tier="default")
    assert request.service_tier == "standard"
    assert requirements(request) == frozenset()
    assert requirements(decode(service_tier="priority")) == {Feature.SERVICE_TIER}


@pytest.mark.parametrize(
    ("effort", "feature"),
    [
        ("none", Feature.REASONING_NONE),
        ("minimal", Feature.REASONING_MINIMAL),
        ("medium", Feature.REASONING_EFFORT),
        ("xhigh", Feature.REASONING_MAX),
    ],
)
def test_each_reasoning_effort_needs_what_it_asks(effort: str, feature: Feature) -> None:
    assert requirements(decode(reasoning_effort=effort)) == {feature}


def test_parallel_tool_calls_false_needs_serial_calls_only_when_there_are_tools() -> None:
    assert requirements(decode(parallel_tool_calls=False)) == frozenset()
    with_tools = decode(parallel_tool_calls=False, tools=[TOOL])
    assert requirements(with_tools) == {Feature.SERIAL_TOOL_CALLS}


def test_strict_tools_need_a_provider_that_enforces_them() -> None:
    strict = TOOL | {"function": TOOL["function"] | {"strict": True}}
    request = decode(tools=[strict])
    assert request.strict_tools is True
    assert requirements(request) == {Feature.STRICT_TOOLS}


def test_mixed_strict_and_loose_tools_are_refused() -> None:
    strict = TOOL | {"function": TOOL["function"] | {"strict": True, "name": "g"}}
    with pytest.raises(InvalidRequest):
        decode(tools=[TOOL, strict])


def test_temperature_above_one_needs_a_provider_whose_range_reaches_two() -> None:
    assert requirements(decode(temperature=1.0)) == frozenset()
    assert requirements(decode(temperature=1.5)) == {Feature.TEMPERATURE_ABOVE_1}


def test_allowed_tools_narrow_the_tools_offered() -> None:
    g = TOOL | {"function": TOOL["function"] | {"name": "g"}}
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "g"}}],
        },
    }
    request = decode(tools=[TOOL, g], tool_choice=choice)
    assert [t.name for t in request.tools] == ["g"]
    assert request.tool_choice == "required"


def test_allowed_tools_naming_an_unknown_tool_is_refused() -> None:
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "auto",
            "tools": [{"type": "function", "function": {"name": "x"}}],
        },
    }
    with pytest.raises(InvalidRequest) as caught:
        decode(tools=[TOOL], tool_choice=choice)
    assert caught.value.param == "tool_choice.allowed_tools.tools"


def test_prompt_cache_hints_prediction_and_safety_identifier_are_carried() -> None:
    request = decode(
        prompt_cache_key="k",
        prompt_cache_retention="24h",
        prompt_cache_options={"mode": "explicit"},
        prediction={"type": "content", "content": [{"type": "text", "text": "draft"}]},
        safety_identifier="s",
    )
    assert request.prompt_cache == PromptCache("k", "24h", None, "explicit")
    assert (request.prediction, request.safety_identifier) == ("draft", "s")
    assert requirements(request) == frozenset(), "hints: any provider serves without them"


def test_image_detail_is_kept() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}}
    request = decode(messages=[{"role": "user", "content": [part]}])
    assert request.messages[0].content == [ImagePart("https://x.test/a.png", detail="low")]


def test_an_earlier_refusal_stays_in_the_history() -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": None, "refusal": "I can't help with that."},
        {"role": "user", "content": "Why?"},
    ]
    request = decode(messages=messages)
    assert request.messages[1].content == [TextPart("I can't help with that.")]


def test_stream_obfuscation_is_carried_when_asked() -> None:
    request = decode(stream=True, stream_options={"include_obfuscation": True})
    assert request.obfuscate is True
    assert decode(stream=True).obfuscate is False
