"""Writing OpenAI Responses answers: the Response object and its typed stream events,
valid against OpenAI's published schemas, parsed by the official SDK, and carrying the
sidecar's ids only."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson

from adapters import (
    ChatResponse,
    LogprobsDelta,
    ResponsesClientCodec,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from tests.conformance._recorder import answer_problems
from tests.conformance._validators import sse_events

codec = ResponsesClientCodec()
REQUEST = codec.decode_request(
    {
        "model": "default",
        "instructions": "Be brief.",
        "input": "Weather?",
        "tools": [{"type": "function", "name": "w", "parameters": None, "strict": None}],
        "metadata": {"ticket": "T-1"},
    }
)
PROVIDER_IDS = ("upstream-response-9", "toolu_upstream_1")
ANSWER = ChatResponse(
    "upstream-response-9",
    "gpt-x",
    [TextPart("Checking.")],
    [ToolCall("toolu_upstream_1", "w", '{"city": "Oslo"}')],
    "tool_calls",
    Usage(5, 6),
)
EVENTS: list[StreamEvent] = [
    StreamStart("upstream-response-9", "gpt-x", Usage(5, 0)),
    TextDelta("Check"),
    TextDelta("ing."),
    ToolCallDelta(0, "toolu_upstream_1", "w", '{"city"'),
    ToolCallDelta(0, None, None, ': "Oslo"}'),
    StreamEnd("tool_calls", Usage(0, 6)),
]
SSE = "text/event-stream"


def stream(events: list[StreamEvent], **options: Any) -> bytes:
    encoder = codec.stream_encoder(REQUEST, "r1", "default")
    if options.get("obfuscate"):
        encoder = type(encoder)("r1", "default", REQUEST.echo, True)
    return b"".join(encoder.encode(e) for e in events)


def datas(wire: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(event.data) for event in sse_events(wire)]


def test_the_answer_is_a_response_with_a_message_and_a_function_call() -> None:
    answer = orjson.loads(codec.encode_response(ANSWER, REQUEST, "r1", "default"))
    assert answer["id"] == "resp_r1"
    assert answer["status"] == "completed"
    assert answer["model"] == "default"
    message, call = answer["output"]
    assert message["content"][0]["text"] == "Checking."
    assert (call["type"], call["name"], call["arguments"]) == (
        "function_call",
        "w",
        '{"city": "Oslo"}',
    )
    assert answer["usage"]["total_tokens"] == 11
    assert answer["instructions"] == "Be brief."
    assert answer["metadata"] == {"ticket": "T-1"}
    assert answer_problems("responses", 200, "application/json", orjson.dumps(answer)) == []


def test_no_provider_id_reaches_the_client_plain_or_streamed() -> None:
    wire = codec.encode_response(ANSWER, REQUEST, "r1", "default") + stream(EVENTS)
    for provider_id in PROVIDER_IDS:
        assert provider_id.encode() not in wire
    call_ids = {d["item"].get("call_id") for d in datas(stream(EVENTS)) if "item" in d} - {None}
    answer = orjson.loads(codec.encode_response(ANSWER, REQUEST, "r1", "default"))
    assert (
        call_ids == {answer["output"][1]["call_id"]} and len(answer["output"][1]["call_id"]) <= 40
    )


def test_the_stream_is_numbered_typed_and_finishes_every_item() -> None:
    wire = stream(EVENTS)
    assert answer_problems("responses", 200, SSE, wire) == []
    kinds = [d["type"] for d in datas(wire)]
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = datas(wire)[-1]["response"]
    assert final["output"][1]["arguments"] == '{"city": "Oslo"}'
    assert final["usage"]["input_tokens"] == 5  # reported at the start, as Anthropic does


def test_text_after_a_tool_call_opens_a_new_message_and_interleaved_calls_keep_their_items() -> (
    None
):
    events: list[StreamEvent] = [
        ToolCallDelta(0, "a", "first", "{"),
        ToolCallDelta(1, "b", "second", "{"),
        ToolCallDelta(0, None, None, "}"),
        ToolCallDelta(1, None, None, "}"),
        TextDelta("Done."),
        StreamEnd("tool_calls", Usage(1, 1)),
    ]
    wire = stream(events)
    assert answer_problems("responses", 200, SSE, wire) == []
    output = datas(wire)[-1]["response"]["output"]
    assert [(o["type"], o.get("name"), o.get("arguments")) for o in output] == [
        ("function_call", "first", "{}"),
        ("function_call", "second", "{}"),
        ("message", None, None),
    ]


def test_an_answer_cut_by_the_token_limit_is_incomplete() -> None:
    wire = stream([TextDelta("Par"), StreamEnd("length", Usage(1, 1))])
    assert answer_problems("responses", 200, SSE, wire) == []
    final = datas(wire)[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    cut = ChatResponse("x", "m", [TextPart("Par")], [], "length", Usage(1, 1))
    answer = orjson.loads(codec.encode_response(cut, REQUEST, "r1", "m"))
    assert (answer["status"], answer["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )


def test_an_empty_answer_is_one_empty_message() -> None:
    wire = stream([StreamEnd("stop", Usage(1, 0))])
    assert answer_problems("responses", 200, SSE, wire) == []
    [message] = datas(wire)[-1]["response"]["output"]
    assert message["content"][0]["text"] == ""


def test_log_probabilities_ride_on_text_deltas_and_the_finished_part() -> None:
    token = TokenLogprob("Hi", -0.5, None, [TopLogprob("Hey", -1.0)])
    wire = stream([TextDelta("Hi"), LogprobsDelta([token]), StreamEnd("stop", Usage(1, 1))])
    assert answer_problems("responses", 200, SSE, wire) == []
    [part] = datas(wire)[-1]["response"]["output"][0]["content"]
    assert part["logprobs"] == [
        {
            "token": "Hi",
            "logprob": -0.5,
            "bytes": [72, 105],
            "top_logprobs": [{"token": "Hey", "logprob": -1.0, "bytes": [72, 101, 121]}],
        }
    ]


def test_a_failure_after_the_first_event_is_an_error_then_a_failed_response() -> None:
    encoder = codec.stream_encoder(REQUEST, "r1", "default")
    wire = encoder.encode(TextDelta("Par")) + encoder.encode_error(502, "api_error", "cut")
    assert answer_problems("responses", 200, SSE, wire) == []
    error, failed = datas(wire)[-2:]
    assert (error["type"], error["code"], error["message"]) == ("error", "api_error", "cut")
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "cut"}
    assert failed["response"]["output"][0]["status"] == "incomplete"


def test_a_failure_before_any_event_still_opens_the_stream_first() -> None:
    encoder = codec.stream_encoder(REQUEST, "r1", "default")
    wire = encoder.encode_error(503, "api_error", "audit log unwritable")
    assert answer_problems("responses", 200, SSE, wire) == []
    assert [d["type"] for d in datas(wire)] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]


def test_obfuscation_pads_every_delta_event_to_a_multiple_of_64_bytes() -> None:
    wire = stream(EVENTS, obfuscate=True)
    for event in sse_events(wire):
        if event.event and event.event.endswith(".delta"):
            assert len(event.data) % 64 == 0
    assert answer_problems("responses", 200, SSE, wire) == []


def test_errors_take_openais_error_shape() -> None:
    error = codec.encode_error(400, "invalid_request", "store: true is not supported", "store")
    assert orjson.loads(error)["error"]["param"] == "store"
    assert answer_problems("responses", 400, "application/json", error) == []


def sdk(content: bytes, content_type: str) -> openai.OpenAI:
    # This SDK version is built on httpx2; MockTransport is its documented test transport.
    transport = httpx2.MockTransport(
        lambda _: httpx2.Response(200, content=content, headers={"content-type": content_type})
    )
    return openai.OpenAI(
        api_key="sk-test",
        base_url="http://sidecar.test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )


def test_the_sdk_parses_our_response() -> None:
    client = sdk(codec.encode_response(ANSWER, REQUEST, "r1", "default"), "application/json")
    response = client.responses.create(model="default", input="Weather?")
    assert response.output_text == "Checking."
    assert response.output[1].type == "function_call"


def test_the_sdks_stream_helper_rebuilds_our_stream() -> None:
    client = sdk(stream(EVENTS), SSE)
    with client.responses.stream(model="default", input="Weather?") as events:
        final = events.get_final_response()
    assert final.output_text == "Checking."
    call = final.output[1]
    assert call.type == "function_call" and call.arguments == '{"city": "Oslo"}'


def test_an_end_held_back_for_the_record_then_failed_leaves_no_gap_in_the_numbering() -> None:
    # The pipeline encodes the end, waits for its record, and sends an error instead
    # when the record cannot be made durable: the end's events never reach the client.
    encoder = codec.stream_encoder(REQUEST, "r1", "default")
    sent = encoder.encode(TextDelta("Par")) + encoder.encode(ToolCallDelta(0, "t", "w", "{}"))
    encoder.encode(StreamEnd("tool_calls", Usage(1, 1)))
    wire = sent + encoder.encode_error(503, "api_error", "the audit log is unavailable")
    assert answer_problems("responses", 200, SSE, wire) == []
    failed = datas(wire)[-1]["response"]
    # The message was finished when the call began; the call never was.
    assert [item["status"] for item in failed["output"]] == ["completed", "incomplete"]


def test_an_empty_answer_whose_end_was_held_back_fails_without_items_never_announced() -> None:
    encoder = codec.stream_encoder(REQUEST, "r1", "default")
    sent = encoder.encode(StreamStart("up", "m", None))
    encoder.encode(StreamEnd("stop", Usage(1, 0)))
    wire = sent + encoder.encode_error(503, "api_error", "the audit log is unavailable")
    assert answer_problems("responses", 200, SSE, wire) == []
    assert datas(wire)[-1]["response"]["output"] == []
