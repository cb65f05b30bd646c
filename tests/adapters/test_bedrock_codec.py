"""The Bedrock codec: Converse requests in Bedrock's shape, answers and errors read back."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import orjson
import pytest

from adapters import (
    ChatRequest,
    Feature,
    ImagePart,
    InvalidRequest,
    Message,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    ResponseFormat,
    TextPart,
    Thinking,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
    adapter_features,
    inference_geography,
    provider_codec,
    requirements,
)

PROFILE = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
TARGET = ProviderTarget("https://bedrock-runtime.eu-central-1.amazonaws.com", PROFILE)
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object"})
HELLO = ChatRequest("default", [Message("user", [TextPart("Hello")])])
PNG = "data:image/png;base64,iVBORw0KGgo="


def sent(request: ChatRequest, target: ProviderTarget = TARGET) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(
        provider_codec("bedrock").encode_request(request, target).body
    )
    return body


def answer(body: dict[str, Any]) -> Any:
    return provider_codec("bedrock").decode_response(json.dumps(body).encode())


def test_the_model_id_is_a_percent_encoded_path_label_of_the_converse_operation() -> None:
    http = provider_codec("bedrock").encode_request(HELLO, TARGET)
    assert http.url == (
        "https://bedrock-runtime.eu-central-1.amazonaws.com/model/"
        "eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
    )
    streamed = provider_codec("bedrock").encode_request(replace(HELLO, stream=True), TARGET)
    assert streamed.url.endswith("v1%3A0/converse-stream")
    assert streamed.headers["accept"] == "application/vnd.amazon.eventstream"


def test_an_inference_profile_arn_is_encoded_whole_into_one_path_label() -> None:
    arn = "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/" + PROFILE
    http = provider_codec("bedrock").encode_request(HELLO, replace(TARGET, model=arn))
    assert "/model/arn%3Aaws%3Abedrock%3Aeu-central-1%3A123456789012%3Ainference-profile%2F" in (
        http.url
    )


def test_system_texts_and_turns_take_converse_blocks() -> None:
    request = ChatRequest(
        "default",
        [
            Message("system", [TextPart("Be brief.")]),
            Message("user", [TextPart("Hi"), ImagePart(PNG)]),
            Message("assistant", [TextPart("Hello!")]),
            Message("user", [TextPart("Again")]),
        ],
        system=["You are a helper."],
    )
    body = sent(request)
    assert body["system"] == [{"text": "You are a helper."}, {"text": "Be brief."}]
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"text": "Hi"},
                {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            ],
        },
        {"role": "assistant", "content": [{"text": "Hello!"}]},
        {"role": "user", "content": [{"text": "Again"}]},
    ]


def test_tool_calls_and_results_become_tool_use_and_tool_result_blocks() -> None:
    request = ChatRequest(
        "default",
        [
            Message("user", [TextPart("Weather in Oslo and Rome?")]),
            Message(
                "assistant",
                [],
                [
                    ToolCall("call_1", "get_weather", '{"city": "Oslo"}'),
                    ToolCall("call_2", "get_weather", ""),
                ],
            ),
            Message("tool", tool_result=ToolResult("call_1", [TextPart("sunny")])),
            Message("tool", tool_result=ToolResult("call_2", [TextPart("no data")], is_error=True)),
        ],
        tools=[WEATHER],
        tool_choice="required",
    )
    body = sent(request)
    assert body["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}},
        {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {}}},
    ]
    # Both results travel in one user turn, as Converse wants turns to alternate.
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "call_1", "content": [{"text": "sunny"}]}},
            {
                "toolResult": {
                    "toolUseId": "call_2",
                    "content": [{"text": "no data"}],
                    "status": "error",
                }
            },
        ],
    }
    assert body["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "inputSchema": {"json": {"type": "object"}},
                    "description": "Weather for a city",
                }
            }
        ],
        "toolChoice": {"any": {}},
    }


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ("get_weather", {"tool": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_takes_converse_names(choice: str, wire: dict[str, Any]) -> None:
    assert (
        sent(replace(HELLO, tools=[WEATHER], tool_choice=choice))["toolConfig"]["toolChoice"]
        == wire
    )


def test_tool_choice_none_is_a_feature_bedrock_lacks_so_the_plan_skips_it() -> None:
    request = replace(HELLO, tools=[WEATHER], tool_choice="none")
    assert requirements(request) == {Feature.TOOL_CHOICE_NONE}
    assert Feature.TOOL_CHOICE_NONE not in adapter_features("bedrock", PROFILE)


def test_a_conversation_with_tool_calls_but_no_tools_offered_is_refused_before_sending() -> None:
    request = ChatRequest(
        "default",
        [Message("assistant", [], [ToolCall("c", "f", "{}")]), Message("user", [TextPart("ok")])],
    )
    with pytest.raises(InvalidRequest, match="tools offered"):
        sent(request)


def test_sampling_fields_go_in_inference_config() -> None:
    request = replace(HELLO, max_tokens=100, temperature=0.2, top_p=0.9, stop=["END"])
    assert sent(request)["inferenceConfig"] == {
        "maxTokens": 100,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    assert "inferenceConfig" not in sent(HELLO)


def test_anthropic_fields_go_in_additional_model_request_fields() -> None:
    request = replace(HELLO, top_k=20, thinking=Thinking("enabled", 2048))
    assert sent(request)["additionalModelRequestFields"] == {
        "top_k": 20,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }


def test_structured_output_and_effort_go_in_output_config_with_the_schema_as_text() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    request = replace(
        HELLO,
        response_format=ResponseFormat(schema, "answer", "the answer"),
        reasoning_effort="high",
    )
    output = sent(request)["outputConfig"]
    assert output["effort"] == "high"
    assert output["textFormat"]["type"] == "json_schema"
    definition = output["textFormat"]["structure"]["jsonSchema"]
    assert json.loads(definition.pop("schema")) == schema
    assert definition == {"name": "answer", "description": "the answer"}


def test_strict_tools_are_marked_strict() -> None:
    body = sent(replace(HELLO, tools=[WEATHER], strict_tools=True))
    assert body["toolConfig"]["tools"][0]["toolSpec"]["strict"] is True


@pytest.mark.parametrize(
    ("model", "family_features"),
    [
        (PROFILE, True),
        ("anthropic.claude-3-haiku-20240307-v1:0", True),
        ("arn:aws:bedrock:eu-central-1:123456789012:inference-profile/" + PROFILE, True),
        ("meta.llama3-3-70b-instruct-v1:0", False),
        ("us.amazon.nova-pro-v1:0", False),
        ("arn:aws:bedrock:eu-central-1:123456789012:application-inference-profile/abc123", False),
    ],
)
def test_what_a_model_honours_depends_on_its_vendor(model: str, family_features: bool) -> None:
    features = adapter_features("bedrock", model)
    assert (Feature.TOP_K in features) is family_features
    assert (Feature.THINKING in features) is family_features
    assert Feature.TEMPERATURE_ABOVE_1 not in features  # Converse caps temperature at 1


@pytest.mark.parametrize(
    ("model", "geography"),
    [
        (PROFILE, "eu"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us"),
        ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", "us-gov"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "global"),
        ("apac.amazon.nova-pro-v1:0", "apac"),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.meta.llama3-2-1b-instruct-v1:0",
            "eu",
        ),
        ("anthropic.claude-3-haiku-20240307-v1:0", None),
        ("euro.anthropic.claude", None),
    ],
)
def test_an_inference_profile_names_its_geography(model: str, geography: str | None) -> None:
    assert inference_geography(model) == geography


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/cat.png", "inline only"),
        ("data:image/tiff;base64,AAAA", "not image/tiff"),
    ],
)
def test_images_bedrock_cannot_take_are_refused_naming_the_part(url: str, message: str) -> None:
    request = ChatRequest("default", [Message("user", [TextPart("see"), ImagePart(url)])])
    with pytest.raises(InvalidRequest, match=message) as caught:
        sent(request)
    assert caught.value.param == "messages[0].content[1]"


def test_blank_texts_are_left_out_since_converse_refuses_them() -> None:
    request = ChatRequest(
        "default",
        [
            Message("user", [TextPart("Hi")]),
            Message("assistant", [TextPart("")], [ToolCall("c", "f", "{}")]),
        ],
        tools=[Tool("f", None, {"type": "object"})],
    )
    assert sent(request)["messages"][1]["content"] == [
        {"toolUse": {"toolUseId": "c", "name": "f", "input": {}}}
    ]


def test_a_bedrock_api_key_is_sent_as_a_bearer_token_instead_of_a_signature() -> None:
    http = provider_codec("bedrock").encode_request(
        HELLO, replace(TARGET, api_key="bedrock-api-key")
    )
    assert http.headers["authorization"] == "Bearer bedrock-api-key"


# -- answers ---------------------------------------------------------------------------


def test_an_answer_gives_its_text_tool_calls_stop_reason_and_usage() -> None:
    response = answer(
        {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [
                        {"reasoningContent": {"reasoningText": {"text": "thinking..."}}},
                        {"text": "Let me look."},
                        {
                            "toolUse": {
                                "toolUseId": "tooluse_1",
                                "name": "get_weather",
                                "input": {"city": "Oslo"},
                            }
                        },
                    ],
                }
            },
            "stopReason": "tool_use",
            "usage": {"inputTokens": 12, "outputTokens": 5, "totalTokens": 17},
            "metrics": {"latencyMs": 400},
        }
    )
    assert [p.text for p in response.content] == ["Let me look."]
    assert response.tool_calls == [ToolCall("tooluse_1", "get_weather", '{"city":"Oslo"}')]
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(12, 5)


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_tool_use", "error"),
        ("a_reason_added_later", "stop"),
    ],
)
def test_stop_reasons_map_to_the_shared_finish_reasons(stop: str, finish: str) -> None:
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": "x"}]}},
        "stopReason": stop,
    }
    assert answer(body).finish_reason == finish


@pytest.mark.parametrize(
    "body",
    [
        {"output": {}},
        {"output": {"message": {"content": "text"}}},
        {"output": {"message": {"content": [{"text": 5}]}}},
        {"output": {"message": {"content": [{"toolUse": {"name": "f", "input": {}}}]}}},
        {"output": {"message": {"content": ["x"]}}},
        {"output": {"message": {"content": []}}, "usage": {"inputTokens": -1}},
        {"output": {"message": {"content": []}}, "usage": {"outputTokens": "7"}},
        {"output": {"message": {"content": []}}, "stopReason": 3},
        {"output": {"message": {"content": [{"toolUse": {"toolUseId": "t" * 300, "name": "f"}}]}}},
    ],
)
def test_a_malformed_answer_is_malformed_response(body: dict[str, Any]) -> None:
    with pytest.raises(ProviderError) as caught:
        answer(body)
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


# -- errors ----------------------------------------------------------------------------


def error(status: int, code: str | None, body: dict[str, Any] | bytes) -> ProviderError:
    headers = (
        {}
        if code is None
        else {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    )
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return provider_codec("bedrock").decode_error(status, headers, raw)


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, "ThrottlingException", ProviderErrorKind.RATE_LIMITED),
        (400, "ServiceQuotaExceededException", ProviderErrorKind.RATE_LIMITED),
        (503, "ServiceUnavailableException", ProviderErrorKind.OVERLOADED),
        (429, "ModelNotReadyException", ProviderErrorKind.OVERLOADED),
        (408, "ModelTimeoutException", ProviderErrorKind.TIMEOUT),
        (500, "InternalServerException", ProviderErrorKind.SERVER_ERROR),
        (424, "ModelErrorException", ProviderErrorKind.SERVER_ERROR),
        (400, "ValidationException", ProviderErrorKind.INVALID_REQUEST),
        (404, "ResourceNotFoundException", ProviderErrorKind.INVALID_REQUEST),
        (403, "AccessDeniedException", ProviderErrorKind.AUTH),
        (403, "UnrecognizedClientException", ProviderErrorKind.AUTH),
        (403, "InvalidSignatureException", ProviderErrorKind.AUTH),
        (403, "ExpiredTokenException", ProviderErrorKind.AUTH),
        (502, "SomethingNewException", ProviderErrorKind.SERVER_ERROR),
    ],
)
def test_bedrock_errors_map_to_the_routers_kinds(
    status: int, code: str, kind: ProviderErrorKind
) -> None:
    failure = error(status, code, {"message": "words from AWS"})
    assert (failure.kind, failure.status, failure.provider_code) == (kind, status, code)
    assert failure.message == "words from AWS"


@pytest.mark.parametrize(
    "body",
    [
        {"__type": "com.amazon.bedrock#ThrottlingException", "message": "slow down"},
        {"code": "ThrottlingException", "Message": "slow down"},
    ],
)
def test_the_error_name_is_read_from_the_body_when_the_header_is_missing(
    body: dict[str, Any],
) -> None:
    failure = error(429, None, body)
    assert (failure.kind, failure.provider_code, failure.message) == (
        ProviderErrorKind.RATE_LIMITED,
        "ThrottlingException",
        "slow down",
    )


def test_an_error_body_that_is_not_json_still_maps_by_status() -> None:
    failure = error(502, None, b"<html>Bad Gateway</html>")
    assert failure.kind is ProviderErrorKind.SERVER_ERROR
    assert "Bad Gateway" in failure.message
