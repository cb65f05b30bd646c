"""The check every test sidecar's chat answers pass (tests/sidecar.py) can fail."""

from __future__ import annotations

import orjson

from adapters import (
    AnthropicClientCodec,
    ChatRequest,
    ChatResponse,
    Message,
    OpenAIClientCodec,
    StreamEnd,
    StreamStart,
    TextDelta,
    TextPart,
    Usage,
)
from tests.conformance._recorder import answer_problems

JSON = "application/json"
SSE = "text/event-stream"
ANSWER = ChatResponse("c", "m", [TextPart("Hi")], [], "stop", Usage(1, 1))
REQUEST = ChatRequest("m", [Message("user", [TextPart("x")])], stream=True)
EVENTS = [StreamStart("c", "m", Usage(1, 0)), TextDelta("Hi"), StreamEnd("stop", Usage(1, 1))]


def stream(protocol: str) -> bytes:
    codec = OpenAIClientCodec() if protocol == "openai" else AnthropicClientCodec()
    encoder = codec.stream_encoder(REQUEST, "r", "m")
    return b"".join(encoder.encode(e) for e in EVENTS)


def test_our_own_answers_pass() -> None:
    for protocol, codec in (("openai", OpenAIClientCodec()), ("anthropic", AnthropicClientCodec())):
        assert (
            answer_problems(protocol, 200, JSON, codec.encode_response(ANSWER, REQUEST, "r", "m"))
            == []
        )
        assert answer_problems(protocol, 200, SSE, stream(protocol)) == []
        error = codec.encode_error(400, "invalid_request", "bad", "model")
        assert answer_problems(protocol, 400, JSON, error) == []


def test_an_error_body_under_200_fails() -> None:
    error = OpenAIClientCodec().encode_error(400, "content_filter", "blocked")
    assert answer_problems("openai", 200, JSON, error) == ["a 200 carries an error"]
    error = AnthropicClientCodec().encode_error(400, "content_filter", "blocked")
    assert answer_problems("anthropic", 200, JSON, error) == ["a 200 carries an error"]


def test_an_error_that_is_not_the_protocols_json_fails() -> None:
    assert answer_problems("openai", 405, "text/plain", b"Method Not Allowed") != []
    assert answer_problems("openai", 400, JSON, b'{"error": {"message": "m"}}') != []


def test_a_stream_that_stops_without_its_end_fails() -> None:
    cut = stream("openai").replace(b"data: [DONE]\n\n", b"")
    assert answer_problems("openai", 200, SSE, cut) == [
        "the stream ends without [DONE] or an error event"
    ]
    cut = stream("anthropic").rsplit(b"event: message_stop", 1)[0]
    assert answer_problems("anthropic", 200, SSE, cut) == ["the stream ends with 'message_delta'"]


def test_a_chunk_missing_a_required_field_fails() -> None:
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": []}
    body = b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"
    assert answer_problems("openai", 200, SSE, body) == [".: 'created' is a required property"]
