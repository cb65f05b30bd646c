"""The Anthropic Messages protocol as clients speak it to the sidecar."""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import orjson
import pytest

from adapters import (
    AnthropicClientCodec,
    ChatRequest,
    ChatResponse,
    ErrorType,
    ImagePart,
    InvalidRequest,
    Message,
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

codec = AnthropicClientCodec()


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "default",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
    } | fields


def test_a_minimal_request_decodes() -> None:
    request = codec.decode_request(body())
    assert request.messages == [Message("user", [TextPart("Hi")])]
    assert request.max_tokens == 100


def test_system_may_be_a_string_or_text_blocks() -> None:
    assert codec.decode_request(body(system="Be brief.")).system == ["Be brief."]
    blocks = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert codec.decode_request(body(system=blocks)).system == ["a", "b"]


def test_base64_images_become_data_urls() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
    }
    [message] = codec.decode_request(body(messages=[{"role": "user", "content": [image]}])).messages
    assert message.content == [ImagePart("data:image/png;base64,iVBORw0KGgo=", "image/png")]


def test_tool_use_and_tool_result_blocks_decode() -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "w", "input": {"city": "Oslo"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "sunny",
                    "is_error": False,
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]
    request = codec.decode_request(body(messages=messages))
    assert request.messages[1].tool_calls == [ToolCall("toolu_1", "w", '{"city":"Oslo"}')]
    assert request.messages[2] == Message(
        "tool", tool_result=ToolResult("toolu_1", [TextPart("sunny")])
    )
    assert request.messages[3] == Message("user", [TextPart("Thanks")])


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "w"}, "w"),
    ],
)
def test_tool_choice_maps_to_the_shared_model(choice: dict[str, str], expected: str) -> None:
    assert codec.decode_request(body(tool_choice=choice)).tool_choice == expected


def test_sampling_fields_and_tools_decode() -> None:
    request = codec.decode_request(
        body(
            temperature=0.2,
            top_p=0.5,
            stop_sequences=["END"],
            stream=True,
            metadata={"user_id": "opaque-1"},
            tools=[{"name": "w", "description": "weather", "input_schema": {"type": "object"}}],
        )
    )
    assert (request.temperature, request.top_p, request.stop, request.stream) == (
        0.2,
        0.5,
        ["END"],
        True,
    )
    assert request.user == "opaque-1"
    assert request.tools[0].parameters == {"type": "object"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"model": None}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document"}]}]},
            "messages[0].content[0].type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            },
            "messages[0].content[0].source.type",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "w", "input": "x"}],
                    }
                ]
            },
            "messages[0].content[0].input",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]},
            "messages[0].content[0].tool_use_id",
        ),
        ({"system": [{"type": "image"}]}, "system[0].type"),
        ({"temperature": 1.5}, "temperature"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"tools": [{"name": "w"}]}, "tools[0].input_schema"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
    ],
)
def test_invalid_fields_are_rejected_with_their_param(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        codec.decode_request(body(**fields))
    assert caught.value.param == param


REQUEST = ChatRequest("default", [Message("user", [TextPart("Hi")])])
ANSWER = ChatResponse(
    id="up-1",
    model="claude-x",
    content=[TextPart("Hello")],
    tool_calls=[ToolCall("toolu_9", "w", '{"city": "Oslo"}')],
    finish_reason="tool_calls",
    usage=Usage(5, 6),
)


def test_response_is_a_message_named_after_the_request() -> None:
    answer = orjson.loads(codec.encode_response(ANSWER, REQUEST, "req123", "default"))
    assert answer == {
        "id": "msg_req123",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Hello"},
            {"type": "tool_use", "id": "toolu_9", "name": "w", "input": {"city": "Oslo"}},
        ],
        "model": "default",
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 6},
    }


@pytest.mark.parametrize(
    ("error_type", "wire_type"),
    [
        ("overloaded", "overloaded_error"),
        ("request_too_large", "request_too_large"),
        ("timeout", "timeout_error"),
        ("policy_denied", "permission_error"),
        ("providers_unavailable", "api_error"),
    ],
)
def test_error_body_uses_anthropic_error_types(error_type: str, wire_type: str) -> None:
    error = orjson.loads(codec.encode_error(500, error_type, "m"))
    assert error == {"type": "error", "error": {"type": wire_type, "message": "m"}}


def test_every_neutral_error_type_has_an_anthropic_shape() -> None:
    for error_type in ErrorType:
        assert orjson.loads(codec.encode_error(500, error_type, "m"))["type"] == "error"


STREAM: list[StreamEvent] = [
    StreamStart("up-1", "claude-x", Usage(5, 0)),
    TextDelta("Hel"),
    TextDelta("lo"),
    ToolCallDelta(0, "toolu_9", "w", ""),
    ToolCallDelta(0, None, None, '{"city": '),
    ToolCallDelta(0, None, None, '"Oslo"}'),
    StreamEnd("tool_calls", Usage(5, 6)),
]


def encode_stream() -> bytes:
    encoder = codec.stream_encoder(codec.decode_request(body(stream=True)), "req123", "default")
    return b"".join(encoder.encode(e) for e in STREAM)


def frames(wire: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in wire.decode().split("\n\n")[:-1]:
        event, data = frame.split("\n")
        assert event.startswith("event: ") and data.startswith("data: ")
        payload = orjson.loads(data[6:])
        assert payload["type"] == event[7:]
        out.append((event[7:], payload))
    return out


def test_stream_follows_the_documented_event_sequence() -> None:
    assert [name for name, _ in frames(encode_stream())] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


def test_stream_blocks_are_indexed_and_typed() -> None:
    events = frames(encode_stream())
    assert events[0][1]["message"]["usage"] == {"input_tokens": 5, "output_tokens": 0}
    assert events[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert events[6][1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_9",
        "name": "w",
        "input": {},
    }
    assert events[7][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city": '}
    assert events[10][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 6},
    }


def test_in_stream_error_is_an_error_event() -> None:
    encoder = codec.stream_encoder(codec.decode_request(body(stream=True)), "r", "default")
    wire = encoder.encode(TextDelta("x")) + encoder.encode_error(529, "overloaded", "busy")
    assert frames(wire)[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
    )


def sdk(handler: Any) -> anthropic.Anthropic:
    # This SDK version is built on httpx2; MockTransport is its documented test transport.
    transport = httpx2.MockTransport(handler)
    return anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://sidecar.test",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


def test_anthropic_sdk_parses_our_response() -> None:
    client = sdk(
        lambda _: httpx2.Response(
            200,
            content=codec.encode_response(ANSWER, REQUEST, "r1", "default"),
            headers={"content-type": "application/json"},
        )
    )
    message = client.messages.create(
        model="default", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.stop_reason == "tool_use"
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"city": "Oslo"}


def test_anthropic_sdk_accumulates_our_stream() -> None:
    client = sdk(
        lambda _: httpx2.Response(
            200, content=encode_stream(), headers={"content-type": "text/event-stream"}
        )
    )
    with client.messages.stream(
        model="default", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.content[0].type == "text" and message.content[0].text == "Hello"
    assert message.content[1].type == "tool_use" and message.content[1].input == {"city": "Oslo"}
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 6


def test_anthropic_sdk_raises_on_our_in_stream_error() -> None:
    encoder = codec.stream_encoder(codec.decode_request(body(stream=True)), "r", "default")
    wire = encoder.encode(TextDelta("x")) + encoder.encode_error(529, "overloaded", "busy")
    client = sdk(
        lambda _: httpx2.Response(200, content=wire, headers={"content-type": "text/event-stream"})
    )
    with (
        pytest.raises(anthropic.APIStatusError, match="busy"),
        client.messages.stream(
            model="default", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        stream.get_final_message()


def test_anthropic_sdk_reads_our_error_body() -> None:
    error = codec.encode_error(529, "overloaded", "busy")
    client = sdk(
        lambda _: httpx2.Response(529, content=error, headers={"content-type": "application/json"})
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(
            model="default", max_tokens=10, messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.status_code == 529
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "busy"},
    }
