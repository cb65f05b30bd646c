"""What each provider codec puts on the wire for a request (no sockets)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from adapters import (
    ChatRequest,
    HttpRequest,
    ImagePart,
    InvalidRequest,
    Message,
    ProviderTarget,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
    provider_codec,
)

KEY = "test-key"
IMAGE = "data:image/png;base64,iVBORw0KGgo="


def conversation(**fields: Any) -> ChatRequest:
    messages = [
        Message("user", [TextPart("Weather in Oslo?"), ImagePart(IMAGE)]),
        Message(
            "assistant",
            [],
            [
                ToolCall("call_1", "get_weather", '{"city": "Oslo"}'),
                ToolCall("call_2", "get_time", ""),
            ],
        ),
        Message("tool", tool_result=ToolResult("call_1", [TextPart("sunny")])),
        Message("tool", tool_result=ToolResult("call_2", [TextPart("noon")], is_error=True)),
    ]
    tool = Tool("get_weather", "Weather for a city", {"type": "object"})
    return ChatRequest(
        model="default", messages=messages, system=["Be brief."], tools=[tool], **fields
    )


def encode(
    adapter: str, request: ChatRequest, **options: str
) -> tuple[HttpRequest, dict[str, Any]]:
    target = ProviderTarget("http://provider.test", "model-x", KEY, options)
    http = provider_codec(adapter).encode_request(request, target)
    return http, orjson.loads(http.body)


def test_openai_sends_the_model_bearer_key_and_messages_in_order() -> None:
    http, body = encode("openai", conversation())
    assert http.url == "http://provider.test/chat/completions"
    assert http.headers["authorization"] == f"Bearer {KEY}"
    assert body["model"] == "model-x"
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert body["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": IMAGE}}
    assert body["messages"][2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
    }


def test_openai_streaming_always_asks_for_usage() -> None:
    _, body = encode("openai", conversation(stream=True))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_openai_max_tokens_field_is_configurable() -> None:
    assert encode("openai", conversation(max_tokens=9))[1]["max_tokens"] == 9
    _, body = encode("openai", conversation(max_tokens=9), max_tokens_field="max_completion_tokens")
    assert body["max_completion_tokens"] == 9
    assert "max_tokens" not in body


def test_azure_addresses_the_deployment_with_api_version_and_api_key() -> None:
    http, body = encode("azure_openai", conversation(), api_version="2024-10-21")
    assert (
        http.url
        == "http://provider.test/openai/deployments/model-x/chat/completions?api-version=2024-10-21"
    )
    assert http.headers["api-key"] == KEY
    assert "authorization" not in http.headers
    assert "model" not in body


def test_azure_without_api_version_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="api_version"):
        encode("azure_openai", conversation())


def test_anthropic_puts_system_on_top_and_tool_results_in_one_user_turn() -> None:
    http, body = encode("anthropic", conversation())
    assert http.url == "http://provider.test/v1/messages"
    assert http.headers["x-api-key"] == KEY
    assert http.headers["anthropic-version"] == "2023-06-01"
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert body["messages"][2]["content"][1] == {
        "type": "tool_result",
        "tool_use_id": "call_2",
        "content": [{"type": "text", "text": "noon"}],
        "is_error": True,
    }
    assert body["tools"] == [
        {
            "name": "get_weather",
            "input_schema": {"type": "object"},
            "description": "Weather for a city",
        }
    ]


def test_anthropic_needs_max_tokens_so_it_defaults_to_4096() -> None:
    assert encode("anthropic", conversation())[1]["max_tokens"] == 4096
    assert encode("anthropic", conversation(max_tokens=50))[1]["max_tokens"] == 50


@pytest.mark.parametrize(
    ("choice", "anthropic", "gemini"),
    [
        ("auto", {"type": "auto"}, {"mode": "AUTO"}),
        ("none", {"type": "none"}, {"mode": "NONE"}),
        ("required", {"type": "any"}, {"mode": "ANY"}),
        (
            "get_weather",
            {"type": "tool", "name": "get_weather"},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice_translates(
    choice: str, anthropic: dict[str, Any], gemini: dict[str, Any]
) -> None:
    assert encode("anthropic", conversation(tool_choice=choice))[1]["tool_choice"] == anthropic
    assert encode("gemini", conversation(tool_choice=choice))[1]["toolConfig"] == {
        "functionCallingConfig": gemini
    }
    openai = encode("openai", conversation(tool_choice=choice))[1]["tool_choice"]
    assert openai == choice or openai == {"type": "function", "function": {"name": choice}}


def test_gemini_keeps_the_key_out_of_the_url() -> None:
    http, _ = encode("gemini", conversation())
    assert http.url == "http://provider.test/v1beta/models/model-x:generateContent"
    assert http.headers["x-goog-api-key"] == KEY
    assert KEY not in http.url


def test_gemini_streams_over_sse() -> None:
    http, _ = encode("gemini", conversation(stream=True))
    assert http.url == "http://provider.test/v1beta/models/model-x:streamGenerateContent?alt=sse"


def test_gemini_names_function_responses_after_the_earlier_call() -> None:
    """Gemini's functionResponse needs the function name; OpenAI tool messages only
    carry the call id, so the codec finds the name in the assistant turn."""
    _, body = encode("gemini", conversation())
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][0]["parts"][1] == {
        "inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}
    }
    assert body["contents"][1]["parts"][0] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}
    }
    assert body["contents"][2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "sunny"}}},
        {"functionResponse": {"name": "get_time", "response": {"error": "noon"}}},
    ]
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "parameters": {"type": "object"},
                    "description": "Weather for a city",
                }
            ]
        }
    ]


def test_gemini_rejects_a_tool_result_for_an_unknown_call() -> None:
    request = ChatRequest(
        model="default", messages=[Message("tool", tool_result=ToolResult("nope", []))]
    )
    with pytest.raises(InvalidRequest) as caught:
        encode("gemini", request)
    assert caught.value.param == "messages[0].tool_call_id"


def test_gemini_generation_config_carries_the_sampling_fields() -> None:
    _, body = encode(
        "gemini", conversation(max_tokens=10, temperature=0.3, top_p=0.8, stop=["END"])
    )
    assert body["generationConfig"] == {
        "maxOutputTokens": 10,
        "temperature": 0.3,
        "topP": 0.8,
        "stopSequences": ["END"],
    }


@pytest.mark.parametrize("adapter", ["anthropic", "gemini"])
def test_arguments_that_are_not_a_json_object_are_rejected(adapter: str) -> None:
    request = ChatRequest(
        model="default", messages=[Message("assistant", [], [ToolCall("c", "f", "[1]")])]
    )
    with pytest.raises(InvalidRequest):
        encode(adapter, request)


def test_unknown_adapter_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown adapter"):
        provider_codec("cohere")
