"""The OpenAI Chat Completions protocol as clients speak it to the sidecar."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson
import pytest

from adapters import (
    ChatRequest,
    ChatResponse,
    ErrorType,
    ImagePart,
    InvalidRequest,
    Message,
    OpenAIClientCodec,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolResult,
    Usage,
)

codec = OpenAIClientCodec()


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "default", "messages": [{"role": "user", "content": "Hi"}]} | fields


def test_a_minimal_request_decodes() -> None:
    request = codec.decode_request(body())
    assert request.model == "default"
    assert request.messages == [Message("user", [TextPart("Hi")])]
    assert request.stream is False


def test_system_and_developer_messages_are_hoisted_in_order() -> None:
    request = codec.decode_request(
        body(
            messages=[
                {"role": "system", "content": "one"},
                {"role": "user", "content": "Hi"},
                {"role": "developer", "content": [{"type": "text", "text": "two"}]},
            ]
        )
    )
    assert request.system == ["one", "two"]
    assert [m.role for m in request.messages] == ["user"]


def test_a_system_message_keeps_its_parts_apart() -> None:
    parts = [{"type": "text", "text": "call +44 20 7946 0958"}, {"type": "text", "text": "ok"}]
    request = codec.decode_request(body(messages=[{"role": "system", "content": parts}]))
    assert request.system == ["call +44 20 7946 0958", "ok"]


def test_content_parts_keep_text_and_images_in_order() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    [message] = codec.decode_request(body(messages=[{"role": "user", "content": parts}])).messages
    assert message.content == [
        TextPart("What is this?"),
        ImagePart("data:image/png;base64,iVBORw0KGgo="),
    ]


def test_assistant_tool_calls_and_tool_results_decode() -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"c":"x"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    request = codec.decode_request(body(messages=messages))
    assert request.messages[1].tool_calls == [ToolCall("call_1", "w", '{"c":"x"}')]
    assert request.messages[2].tool_result == ToolResult("call_1", [TextPart("sunny")])


def test_sampling_fields_decode() -> None:
    request = codec.decode_request(
        body(
            max_tokens=10,
            max_completion_tokens=20,
            temperature=0.5,
            top_p=0.9,
            stop="END",
            stream=True,
            stream_options={"include_usage": True},
            user="u-1",
            tool_choice={"type": "function", "function": {"name": "w"}},
            tools=[{"type": "function", "function": {"name": "w"}}],
        )
    )
    assert (request.max_tokens, request.temperature, request.top_p) == (20, 0.5, 0.9)
    assert request.stop == ["END"]
    assert request.stream and request.include_usage
    assert request.user == "u-1"
    assert request.tool_choice == "w"
    assert request.tools[0].parameters == {"type": "object", "properties": {}}


def test_unknown_fields_are_ignored() -> None:
    assert codec.decode_request(body(seed=3, logit_bias={}, service_tier="auto")).model == "default"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": 3}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        (
            {"messages": [{"role": "user", "content": "a"}, {"role": "robot", "content": "b"}]},
            "messages[1].role",
        ),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content[0].type",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {
                "messages": [
                    {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]}
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": True}, "max_completion_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": "high"}, "top_p"),
        ({"stop": ["a", 1]}, "stop[1]"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"n": 2}, "n"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.function"),
    ],
)
def test_invalid_fields_are_rejected_with_their_param(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        codec.decode_request(body(**fields))
    assert caught.value.param == param


def test_a_body_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(InvalidRequest):
        codec.decode_request([1, 2])


REQUEST = ChatRequest("default", [Message("user", [TextPart("Hi")])])
ANSWER = ChatResponse(
    id="up-1",
    model="gpt-x",
    content=[TextPart("Hello")],
    tool_calls=[ToolCall("call_9", "w", '{"city": "Oslo"}')],
    finish_reason="tool_calls",
    usage=Usage(5, 6),
)


def test_response_is_a_chat_completion_named_after_the_request() -> None:
    answer = orjson.loads(codec.encode_response(ANSWER, REQUEST, "req123", "default"))
    assert answer["id"] == "chatcmpl-req123"
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "default"
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    assert answer["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}


def test_error_body_carries_the_protocol_type_and_the_neutral_code() -> None:
    error = orjson.loads(codec.encode_error(403, "policy_denied", "not allowed"))
    assert error == {
        "error": {
            "message": "not allowed",
            "type": "permission_error",
            "param": None,
            "code": "policy_denied",
        }
    }


def test_every_neutral_error_type_has_an_openai_shape() -> None:
    for error_type in ErrorType:
        assert orjson.loads(codec.encode_error(500, error_type, "m"))["error"]["code"] == error_type


STREAM: list[StreamEvent] = [
    StreamStart("up-1", "gpt-x"),
    TextDelta("Hel"),
    TextDelta("lo"),
    ToolCallDelta(0, "call_9", "w", ""),
    ToolCallDelta(0, None, None, '{"city": '),
    ToolCallDelta(0, None, None, '"Oslo"}'),
    StreamEnd("tool_calls", Usage(5, 6)),
]


def sse_payloads(wire: bytes) -> list[Any]:
    frames = wire.decode().split("\n\n")
    assert frames[-1] == ""
    assert all(f.startswith("data: ") for f in frames[:-1])
    return [f[6:] if f == "data: [DONE]" else orjson.loads(f[6:]) for f in frames[:-1]]


def encode_stream(include_usage: bool) -> bytes:
    request = codec.decode_request(
        body(stream=True, stream_options={"include_usage": include_usage})
    )
    encoder = codec.stream_encoder(request, "req123", "default")
    return b"".join(encoder.encode(e) for e in STREAM)


def test_stream_sends_role_deltas_finish_usage_then_done() -> None:
    chunks = sse_payloads(encode_stream(include_usage=True))
    assert chunks[-1] == "[DONE]"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert all(
        c["id"] == "chatcmpl-req123" and c["object"] == "chat.completion.chunk" for c in chunks[:-1]
    )
    deltas = [c["choices"][0]["delta"] for c in chunks[1:-3]]
    assert deltas[:2] == [{"content": "Hel"}, {"content": "lo"}]
    assert deltas[2] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_9",
                "type": "function",
                "function": {"name": "w", "arguments": ""},
            }
        ]
    }
    assert chunks[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-2]["choices"] == []
    assert chunks[-2]["usage"]["total_tokens"] == 11
    assert all(c["usage"] is None for c in chunks[:-2])


def test_stream_without_include_usage_has_no_usage_chunk() -> None:
    chunks = sse_payloads(encode_stream(include_usage=False))
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert all("usage" not in c for c in chunks[:-1])


def test_in_stream_error_is_an_error_object_without_done() -> None:
    encoder = codec.stream_encoder(codec.decode_request(body(stream=True)), "r", "default")
    wire = encoder.encode(TextDelta("partial")) + encoder.encode_error(
        502, "providers_unavailable", "gone"
    )
    payloads = sse_payloads(wire)
    assert payloads[-1] == {
        "error": {
            "message": "gone",
            "type": "server_error",
            "param": None,
            "code": "providers_unavailable",
        }
    }
    assert "[DONE]" not in payloads


def sdk(handler: Any) -> openai.OpenAI:
    # This SDK version is built on httpx2; MockTransport is its documented test transport.
    transport = httpx2.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://sidecar.test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


def test_openai_sdk_parses_our_response() -> None:
    client = sdk(
        lambda _: httpx2.Response(
            200,
            content=codec.encode_response(ANSWER, REQUEST, "r1", "default"),
            headers={"content-type": "application/json"},
        )
    )
    completion = client.chat.completions.create(
        model="default", messages=[{"role": "user", "content": "Hi"}]
    )
    message = completion.choices[0].message
    assert message.content == "Hello"
    assert message.tool_calls is not None
    [call] = message.tool_calls
    assert call.type == "function"
    assert call.function.arguments == '{"city": "Oslo"}'
    assert completion.usage is not None and completion.usage.total_tokens == 11


def test_openai_sdk_parses_our_stream() -> None:
    wire = encode_stream(include_usage=True)
    client = sdk(
        lambda _: httpx2.Response(200, content=wire, headers={"content-type": "text/event-stream"})
    )
    chunks = list(
        client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    arguments = "".join(
        tc.function.arguments or ""
        for c in chunks
        if c.choices
        for tc in c.choices[0].delta.tool_calls or []
        if tc.function is not None
    )
    assert text == "Hello"
    assert orjson.loads(arguments) == {"city": "Oslo"}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 6


def test_openai_sdk_raises_on_our_in_stream_error() -> None:
    encoder = codec.stream_encoder(codec.decode_request(body(stream=True)), "r", "default")
    wire = encoder.encode(TextDelta("x")) + encoder.encode_error(503, "overloaded", "busy")
    client = sdk(
        lambda _: httpx2.Response(200, content=wire, headers={"content-type": "text/event-stream"})
    )
    with pytest.raises(openai.APIError, match="busy"):
        list(
            client.chat.completions.create(
                model="default", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        )


def test_openai_sdk_reads_our_error_body() -> None:
    error = codec.encode_error(429, "rate_limit", "slow down")
    client = sdk(
        lambda _: httpx2.Response(429, content=error, headers={"content-type": "application/json"})
    )
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="default", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.code == "rate_limit"
    assert caught.value.body == {
        "message": "slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit",
    }
