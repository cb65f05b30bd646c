"""Each provider codec puts every feature it declares on the wire, in its own terms.

A feature an adapter declares is one the route plan sends it; the class test below
holds that each declared feature changes what is sent, so none is accepted and lost.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from adapters import (
    ADAPTER_NAMES,
    CacheBreakpoint,
    ChatRequest,
    Feature,
    ImagePart,
    Message,
    PromptCache,
    ProviderTarget,
    ResponseFormat,
    TextPart,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    adapter_features,
    provider_codec,
    requirements,
)

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
TOOL = Tool("f", "does f", {"type": "object"})
BASE = ChatRequest("default", [Message("user", [TextPart("Hi")])], tools=[TOOL])
# A request that asks for exactly each feature.
ASKING: dict[Feature, dict[str, Any]] = {
    Feature.JSON_OBJECT: {"response_format": ResponseFormat()},
    Feature.JSON_SCHEMA: {"response_format": ResponseFormat(SCHEMA, "answer", strict=True)},
    Feature.SEED: {"seed": 7},
    Feature.PRESENCE_PENALTY: {"presence_penalty": 0.5},
    Feature.FREQUENCY_PENALTY: {"frequency_penalty": 0.5},
    Feature.LOGIT_BIAS: {"logit_bias": {"50256": -100}},
    Feature.LOGPROBS: {"logprobs": True, "top_logprobs": 2},
    Feature.TOP_K: {"top_k": 40},
    Feature.TEMPERATURE_ABOVE_1: {"temperature": 1.5},
    Feature.SERIAL_TOOL_CALLS: {"parallel_tool_calls": False},
    Feature.TOOL_CHOICE_NONE: {"tool_choice": "none"},
    Feature.STRICT_TOOLS: {"strict_tools": True},
    Feature.SERVICE_TIER: {"service_tier": "flex"},
    Feature.REASONING_EFFORT: {"reasoning_effort": "medium"},
    Feature.REASONING_NONE: {"reasoning_effort": "none"},
    Feature.REASONING_MINIMAL: {"reasoning_effort": "minimal"},
    Feature.REASONING_MAX: {"reasoning_effort": "max"},
    Feature.THINKING: {"thinking": Thinking("enabled", 2048)},
    Feature.THINKING_BETWEEN_TOOLS: {"thinking": Thinking("between_tools")},
    Feature.VERBOSITY: {"verbosity": "low"},
    Feature.INFERENCE_GEO: {"inference_geo": "eu"},
    Feature.FAST_MODE: {"fast": True},
}


# On Bedrock and Vertex what is honoured depends on the model's vendor: one of each.
TARGETS = [
    (adapter, "model-x") for adapter in ADAPTER_NAMES if adapter not in ("bedrock", "vertex")
]
TARGETS += [
    ("bedrock", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    ("bedrock", "meta.llama3-3-70b-instruct-v1:0"),
    ("vertex", "gemini-2.5-pro"),
    ("vertex", "claude-sonnet-4-5@20250929"),
]
OPTIONS = {
    "azure_openai": {"api_version": "2024-10-21"},
    "bedrock": {"region": "eu-central-1"},
    "vertex": {"region": "europe-west1", "project": "test-project"},
}


def body(adapter: str, request: ChatRequest, model: str = "model-x") -> dict[str, Any]:
    target = ProviderTarget("http://provider.test", model, None, OPTIONS.get(adapter, {}))
    document: dict[str, Any] = orjson.loads(
        provider_codec(adapter).encode_request(request, target).body
    )
    return document


def test_every_feature_has_a_request_that_asks_for_it() -> None:
    assert set(ASKING) == set(Feature)
    for feature, fields in ASKING.items():
        assert requirements(replace(BASE, **fields)) == {feature}, feature


# Only declared pairs: the plan never sends a feature to an adapter that lacks it.
DECLARED = [(a, m, f) for a, m in TARGETS for f in Feature if f in adapter_features(a, m)]


@pytest.mark.parametrize(
    ("adapter", "model", "feature"), DECLARED, ids=[f"{a}-{m}-{f}" for a, m, f in DECLARED]
)
def test_a_declared_feature_changes_what_is_sent(
    adapter: str, model: str, feature: Feature
) -> None:
    asked = body(adapter, replace(BASE, **ASKING[feature]), model)
    assert asked != body(adapter, BASE, model)


@pytest.mark.parametrize("adapter", ["bedrock", "vertex"])
def test_what_every_model_on_a_cloud_honours_is_what_each_of_its_vendors_does(
    adapter: str,
) -> None:
    floor = adapter_features(adapter)
    for cloud, model in TARGETS:
        if cloud == adapter:
            assert floor <= adapter_features(adapter, model)


def test_openai_takes_json_schema_with_its_name_description_and_strictness() -> None:
    fmt = ResponseFormat(SCHEMA, "answer", "the answer", True)
    sent = body("openai", replace(BASE, response_format=fmt))["response_format"]
    assert sent == {
        "type": "json_schema",
        "json_schema": {
            "name": "answer",
            "schema": SCHEMA,
            "description": "the answer",
            "strict": True,
        },
    }
    json_mode = body("openai", replace(BASE, response_format=ResponseFormat()))
    assert json_mode["response_format"] == {"type": "json_object"}


def test_gemini_takes_json_mode_as_a_mime_type_and_the_schema_as_json_schema() -> None:
    config = body("gemini", replace(BASE, response_format=ResponseFormat(SCHEMA)))[
        "generationConfig"
    ]
    assert config == {"responseMimeType": "application/json", "responseJsonSchema": SCHEMA}
    json_mode = body("gemini", replace(BASE, response_format=ResponseFormat()))
    assert json_mode["generationConfig"] == {"responseMimeType": "application/json"}


def test_anthropic_takes_a_schema_as_its_native_structured_output() -> None:
    sent = body("anthropic", replace(BASE, response_format=ResponseFormat(SCHEMA)))
    assert sent["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}


def test_openai_sampling_fields_go_as_they_are() -> None:
    request = replace(
        BASE,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        logit_bias={"50256": -100},
        logprobs=True,
        top_logprobs=3,
        parallel_tool_calls=False,
        strict_tools=True,
    )
    for adapter in ("openai", "azure_openai"):
        sent = body(adapter, request)
        assert {k: sent[k] for k in ("seed", "presence_penalty", "frequency_penalty")} == {
            "seed": 7,
            "presence_penalty": 0.5,
            "frequency_penalty": -0.5,
        }
        assert sent["logit_bias"] == {"50256": -100}
        assert (sent["logprobs"], sent["top_logprobs"]) == (True, 3)
        assert sent["parallel_tool_calls"] is False
        assert sent["tools"][0]["function"]["strict"] is True


def test_parallel_tool_calls_is_not_sent_without_tools() -> None:
    sent = body("openai", replace(BASE, tools=[], parallel_tool_calls=False))
    assert "parallel_tool_calls" not in sent


def test_gemini_generation_config_carries_seed_penalties_top_k_and_logprobs() -> None:
    request = replace(
        BASE,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=-0.5,
        top_k=40,
        logprobs=True,
        top_logprobs=3,
    )
    assert body("gemini", request)["generationConfig"] == {
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": -0.5,
        "topK": 40,
        "responseLogprobs": True,
        "logprobs": 3,
    }


@pytest.mark.parametrize(
    ("fields", "budget"),
    [
        ({"reasoning_effort": "none"}, 0),
        ({"reasoning_effort": "low"}, 1024),
        ({"reasoning_effort": "medium"}, 8192),
        ({"reasoning_effort": "high"}, 24576),
        ({"thinking": Thinking("enabled", 2048)}, 2048),
        ({"thinking": Thinking("adaptive")}, -1),
        ({"thinking": Thinking("disabled")}, 0),
    ],
)
def test_gemini_thinking_budget_follows_googles_mapping(
    fields: dict[str, Any], budget: int
) -> None:
    config = body("gemini", replace(BASE, **fields))["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": budget}


def test_anthropic_options_go_where_the_messages_api_takes_them() -> None:
    request = replace(
        BASE,
        top_k=40,
        reasoning_effort="high",
        thinking=Thinking("enabled", 2048, "omitted"),
        service_tier="standard",
        inference_geo="eu",
        fast=True,
        strict_tools=True,
        safety_identifier="hash-1",
        user="user-1",
    )
    sent = body("anthropic", request)
    assert sent["top_k"] == 40
    assert sent["output_config"] == {"effort": "high"}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}
    assert sent["service_tier"] == "standard_only"
    assert (sent["inference_geo"], sent["speed"]) == ("eu", "fast")
    assert sent["tools"][0]["strict"] is True
    assert sent["metadata"] == {"user_id": "hash-1"}, "the safety identifier comes first"


def test_the_user_reaches_anthropic_as_its_metadata_user_id() -> None:
    assert body("anthropic", replace(BASE, user="user-1"))["metadata"] == {"user_id": "user-1"}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", {"type": "any", "disable_parallel_tool_use": True}),
        ("f", {"type": "tool", "name": "f", "disable_parallel_tool_use": True}),
        ("none", {"type": "none"}),
    ],
)
def test_anthropic_serial_tool_calls_ride_on_the_tool_choice(
    choice: str | None, expected: dict[str, Any]
) -> None:
    sent = body("anthropic", replace(BASE, tool_choice=choice, parallel_tool_calls=False))
    assert sent["tool_choice"] == expected


def test_openai_only_hints_go_to_openai_and_not_to_azure() -> None:
    request = replace(
        BASE,
        service_tier="standard",
        reasoning_effort="low",
        verbosity="high",
        prediction="draft",
        safety_identifier="hash-1",
        prompt_cache=PromptCache("k", "24h", "30m", "explicit"),
    )
    sent = body("openai", request)
    assert sent["service_tier"] == "default"
    assert (sent["reasoning_effort"], sent["verbosity"]) == ("low", "high")
    assert sent["prediction"] == {"type": "content", "content": "draft"}
    assert sent["safety_identifier"] == "hash-1"
    assert sent["prompt_cache_key"] == "k"
    assert sent["prompt_cache_retention"] == "24h"
    assert sent["prompt_cache_options"] == {"ttl": "30m", "mode": "explicit"}
    azure = body("azure_openai", request)
    assert not {"service_tier", "reasoning_effort", "prediction", "prompt_cache_key"} & set(azure)


def test_image_detail_reaches_openai() -> None:
    image = ImagePart("https://x.test/a.png", detail="high")
    sent = body("openai", replace(BASE, messages=[Message("user", [TextPart("see"), image])]))
    assert sent["messages"][0]["content"][1]["image_url"] == {
        "url": "https://x.test/a.png",
        "detail": "high",
    }


def test_anthropic_cache_marks_land_on_the_blocks_they_were_on() -> None:
    messages = [
        Message("user", [TextPart("q")]),
        Message("assistant", [TextPart("calling")], [ToolCall("t1", "f", "{}")]),
        Message("tool", tool_result=ToolResult("t1", [TextPart("r")])),
        Message("user", [TextPart("and?")]),
    ]
    request = replace(
        BASE,
        messages=messages,
        system=["a", "b"],
        cache=(
            CacheBreakpoint("request"),
            CacheBreakpoint("system", 1, 0, "1h"),
            CacheBreakpoint("tools", 0),
            CacheBreakpoint("messages", 1, 1, "1h"),
            CacheBreakpoint("messages", 2, 0),
            CacheBreakpoint("messages", 3, 0),
        ),
    )
    sent = body("anthropic", request)
    five_minutes = {"type": "ephemeral"}
    hour = {"type": "ephemeral", "ttl": "1h"}
    assert sent["cache_control"] == five_minutes
    assert [b.get("cache_control") for b in sent["system"]] == [None, hour]
    assert sent["tools"][0]["cache_control"] == five_minutes
    assistant = sent["messages"][1]["content"]
    assert [b.get("cache_control") for b in assistant] == [None, hour]
    tool_turn = sent["messages"][2]["content"]  # the tool result and the text, merged
    assert [b.get("cache_control") for b in tool_turn] == [five_minutes, five_minutes]
    assert "cache_control" not in sent["messages"][0]["content"][0]


@pytest.mark.parametrize("adapter", ["openai", "azure_openai", "gemini"])
def test_cache_marks_are_not_sent_to_providers_that_cache_by_themselves(adapter: str) -> None:
    assert body(adapter, replace(BASE, cache=(CacheBreakpoint("request"),))) == body(adapter, BASE)
