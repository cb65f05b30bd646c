"""Reading an OpenAI Responses request: every field carried into the chat model, or
refused with a 400 naming it; nothing accepted and then dropped."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from adapters import (
    ChatRequest,
    ImagePart,
    InvalidRequest,
    Message,
    ResponseFormat,
    ResponsesClientCodec,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
)
from tests.conformance._validators import responses_request_fields

codec = ResponsesClientCodec()
TOOL = {"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": None}
SAMPLES: dict[str, Any] = {
    "model": "smart",
    "input": "Hello",
    "instructions": "Be brief.",
    "tools": [TOOL],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "max_output_tokens": 100,
    "max_tool_calls": 3,
    "temperature": 0.3,
    "top_p": 0.5,
    "top_logprobs": 2,
    "text": {"format": {"type": "json_object"}},
    "reasoning": {"effort": "low"},
    "include": ["message.output_text.logprobs"],
    "stream": True,
    "stream_options": {"include_obfuscation": True},
    "store": True,
    "background": True,
    "truncation": "auto",
    "metadata": {"team": "a"},
    "user": "user-1",
    "safety_identifier": "hash-1",
    "prompt_cache_key": "key-1",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {"ttl": "30m"},
    "service_tier": "flex",
    "previous_response_id": "resp_1",
    "conversation": "conv_1",
    "prompt": {"id": "pmpt_1"},
    "context_management": [{"type": "compaction"}],
    "moderation": {"model": "omni-moderation-latest"},
}
# Accepted without changing what is sent (only what the answer repeats): each one's
# reason is in README "Request fields".
ADVISORY = {"metadata", "max_tool_calls"}
# Fields that only mean something beside another one.
COMPANIONS: dict[str, dict[str, Any]] = {
    "top_logprobs": {"include": ["message.output_text.logprobs"]},
    "stream_options": {"stream": True},
    "tool_choice": {"tools": [TOOL]},
    "parallel_tool_calls": {"tools": [TOOL]},
}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "default", "input": "Hi"} | fields


def refused(**fields: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as raised:
        codec.decode_request(body(**fields))
    return raised.value


def sent(request: ChatRequest) -> ChatRequest:
    """What reaches the providers: all but the echo the answer repeats."""
    return replace(request, echo=b"")


def test_every_field_of_the_published_request_schema_has_a_sample() -> None:
    assert set(SAMPLES) == responses_request_fields()


@pytest.mark.parametrize("field", sorted(SAMPLES))
def test_a_field_is_carried_refused_by_name_or_documented_advisory(field: str) -> None:
    companions = COMPANIONS.get(field, {})
    baseline = codec.decode_request(body(**companions))
    try:
        request = codec.decode_request(body(**companions, **{field: SAMPLES[field]}))
    except InvalidRequest as refused:
        assert refused.param is not None and refused.param.startswith(field)
        return
    assert (sent(request) != sent(baseline)) != (field in ADVISORY), field


def test_a_string_input_is_one_user_message() -> None:
    request = codec.decode_request(body())
    assert request.messages == [Message("user", [TextPart("Hi")])]
    assert request.system == []


def test_instructions_come_first_then_system_and_developer_items_in_order() -> None:
    request = codec.decode_request(
        body(
            instructions="Be brief.",
            input=[
                {"role": "user", "content": "Hi"},
                {"type": "message", "role": "developer", "content": "English only."},
                {"role": "system", "content": [{"type": "input_text", "text": "No jokes."}]},
            ],
        )
    )
    assert request.system == ["Be brief.", "English only.", "No jokes."]
    assert request.messages == [Message("user", [TextPart("Hi")])]


def test_a_system_items_parts_stay_apart_so_no_value_runs_on_into_the_next() -> None:
    parts = [
        {"type": "input_text", "text": "+44 20 7946 0958"},
        {"type": "input_text", "text": "ok"},
    ]
    items = [{"role": "system", "content": parts}, {"role": "user", "content": "Hi"}]
    request = codec.decode_request(body(input=items))
    assert request.system == ["+44 20 7946 0958", "ok"]


def test_user_content_parts_carry_text_and_images() -> None:
    parts = [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
    ]
    request = codec.decode_request(body(input=[{"role": "user", "content": parts}]))
    assert request.messages[0].content == [
        TextPart("What is this?"),
        ImagePart("data:image/png;base64,AAAA", detail="low"),
    ]


def test_an_earlier_answer_sent_back_as_input_becomes_the_assistant_turn() -> None:
    earlier = {
        "id": "msg_x_0",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}],
    }
    request = codec.decode_request(body(input=[{"role": "user", "content": "Hi"}, earlier]))
    assert request.messages[1] == Message("assistant", [TextPart("Hello!")])


def test_function_calls_join_the_assistant_turn_and_outputs_become_tool_results() -> None:
    request = codec.decode_request(
        body(
            input=[
                {"role": "user", "content": "Weather in Oslo and Rome?"},
                {"role": "assistant", "content": "Checking."},
                {"type": "function_call", "call_id": "c1", "name": "w", "arguments": "{}"},
                {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "c2",
                    "name": "w",
                    "arguments": "{}",
                    "status": "completed",
                },
                {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "rain"}],
                },
            ]
        )
    )
    assert request.messages[1] == Message(
        "assistant",
        [TextPart("Checking.")],
        [ToolCall("c1", "w", "{}"), ToolCall("c2", "w", "{}")],
    )
    assert request.messages[2:] == [
        Message("tool", tool_result=ToolResult("c1", [TextPart("sunny")])),
        Message("tool", tool_result=ToolResult("c2", [TextPart("rain")])),
    ]


def test_function_tools_and_the_choice_of_one_are_read() -> None:
    tool = {"type": "function", "name": "w", "parameters": {"type": "object"}, "strict": True}
    request = codec.decode_request(
        body(tools=[tool], tool_choice={"type": "function", "name": "w"}, parallel_tool_calls=False)
    )
    assert request.tools == [Tool("w", None, {"type": "object"})]
    assert request.strict_tools is True
    assert request.tool_choice == "w"
    assert request.parallel_tool_calls is False


def test_allowed_tools_narrow_the_tools_offered() -> None:
    tools = [
        {"type": "function", "name": name, "parameters": None, "strict": None}
        for name in ("a", "b")
    ]
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "b"}],
    }
    request = codec.decode_request(body(tools=tools, tool_choice=choice))
    assert [t.name for t in request.tools] == ["b"]
    assert request.tool_choice == "required"


def test_text_formats_become_the_chat_models_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "name": "plan", "schema": schema, "strict": True}
    request = codec.decode_request(body(text={"format": fmt, "verbosity": "low"}))
    assert request.response_format == ResponseFormat(schema, "plan", None, True)
    assert request.verbosity == "low"
    json_mode = codec.decode_request(body(text={"format": {"type": "json_object"}}))
    assert json_mode.response_format == ResponseFormat()
    plain = codec.decode_request(body(text={"format": {"type": "text"}}))
    assert plain.response_format is None


def test_sampling_limits_reasoning_and_identities_are_carried() -> None:
    request = codec.decode_request(
        body(
            max_output_tokens=100,
            temperature=1.5,
            top_p=0.5,
            reasoning={"effort": "high"},
            include=["message.output_text.logprobs"],
            top_logprobs=3,
            user="u-1",
            safety_identifier="s-1",
            prompt_cache_key="k-1",
            service_tier="default",
            stream=True,
            stream_options={"include_obfuscation": True},
        )
    )
    assert (request.max_tokens, request.temperature, request.top_p) == (100, 1.5, 0.5)
    assert request.reasoning_effort == "high"
    assert (request.logprobs, request.top_logprobs) == (True, 3)
    assert (request.user, request.safety_identifier) == ("u-1", "s-1")
    assert request.prompt_cache is not None and request.prompt_cache.key == "k-1"
    assert request.service_tier == "standard"
    assert (request.stream, request.obfuscate) == (True, True)


def test_null_fields_and_the_stateless_defaults_ask_for_nothing() -> None:
    request = codec.decode_request(
        body(
            store=False,
            background=False,
            truncation="disabled",
            previous_response_id=None,
            conversation=None,
            include=["reasoning.encrypted_content"],
            max_tool_calls=5,
        )
    )
    assert request.messages == [Message("user", [TextPart("Hi")])]


def test_the_echo_repeats_the_clients_own_values() -> None:
    tool = {"type": "function", "name": "w", "parameters": None, "strict": None}
    request = codec.decode_request(
        body(instructions="Mail jane@example.org", metadata={"k": "v"}, tools=[tool])
    )
    echo = orjson.loads(b"{" + request.echo + b"}")
    assert echo["instructions"] == "Mail jane@example.org"
    assert echo["metadata"] == {"k": "v"}
    assert echo["tools"] == [tool | {"description": None}]
    assert echo["tool_choice"] == "auto"
    assert echo["temperature"] is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": {"id": "conv_1"}}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"store": True}, "store"),
        ({"background": True}, "background"),
        ({"truncation": "auto"}, "truncation"),
        ({"context_management": [{"type": "compaction"}]}, "context_management"),
        ({"moderation": {"model": "omni"}}, "moderation"),
        ({"include": ["code_interpreter_call.outputs"]}, "include[0]"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"reasoning": {"summary": "auto"}}, "reasoning.summary"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0].type"),
        (
            {"tools": [{"type": "function", "name": "w", "defer_loading": True}]},
            "tools[0].defer_loading",
        ),
        ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice"),
        ({"text": {"format": {"type": "grammar"}}}, "text.format.type"),
        ({"stream_options": {"include_obfuscation": True}}, "stream_options"),
        ({"service_tier": "ultrafast"}, "service_tier"),
        ({"frobnicate": 1}, "frobnicate"),
        ({"input": None}, "input"),
        ({"input": []}, "input"),
    ],
)
def test_fields_the_sidecar_cannot_serve_are_refused_by_name(
    fields: dict[str, Any], param: str
) -> None:
    assert refused(**fields).param == param


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "item_reference", "id": "msg_1"}, "input[0].type"),
        ({"id": "msg_1"}, "input[0].type"),
        ({"type": "reasoning", "id": "rs_1", "summary": []}, "input[0].type"),
        ({"type": "web_search_call", "id": "ws_1", "status": "completed"}, "input[0].type"),
        (
            {"role": "user", "content": [{"type": "input_file", "file_id": "f"}]},
            "input[0].content[0].type",
        ),
        (
            {"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]},
            "input[0].content[0].file_id",
        ),
        (
            {
                "role": "user",
                "content": [{"type": "input_image", "image_url": "u", "detail": "original"}],
            },
            "input[0].content[0].detail",
        ),
        (
            {"role": "user", "content": [{"type": "output_text", "text": "x"}]},
            "input[0].content[0].type",
        ),
        ({"role": "tool", "content": "x"}, "input[0].role"),
        ({"role": "assistant", "content": "x", "phase": "commentary"}, "input[0].phase"),
        ({"role": "user", "content": "x", "extra": 1}, "input[0].extra"),
        (
            {"type": "function_call", "call_id": "c", "name": "w", "arguments": "{}", "x": 1},
            "input[0].x",
        ),
        ({"type": "function_call_output", "output": "x"}, "input[0].call_id"),
    ],
)
def test_input_items_the_sidecar_cannot_serve_are_refused_by_name(
    item: dict[str, Any], param: str
) -> None:
    assert refused(input=[item]).param == param


def test_a_refusal_never_echoes_the_clients_values() -> None:
    secret = "jane.roe@example.org"
    for fields in (
        {"input": [{"role": secret, "content": "x"}]},
        {"input": [{"type": secret}]},
        {secret: 1},
        {"tools": [{"type": secret}]},
    ):
        assert secret not in refused(**fields).message
