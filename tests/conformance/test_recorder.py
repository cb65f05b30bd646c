"""The check every test sidecar's chat and embeddings answers pass (tests/sidecar.py) can
fail."""

from __future__ import annotations

import orjson

from adapters import (
    AnthropicClientCodec,
    ChatRequest,
    ChatResponse,
    EmbeddingRequest,
    EmbeddingResponse,
    Message,
    OpenAIClientCodec,
    OpenAIEmbeddingsClientCodec,
    ResponsesClientCodec,
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


CODECS = {
    "openai": OpenAIClientCodec(),
    "anthropic": AnthropicClientCodec(),
    "responses": ResponsesClientCodec(),
}


def stream(protocol: str) -> bytes:
    encoder = CODECS[protocol].stream_encoder(REQUEST, "r", "m")
    return b"".join(encoder.encode(e) for e in EVENTS)


def test_our_own_answers_pass() -> None:
    for protocol, codec in CODECS.items():
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


def test_a_responses_stream_without_its_end_fails() -> None:
    cut = stream("responses").rsplit(b"event: response.completed", 1)[0]
    assert answer_problems("responses", 200, SSE, cut) == [
        "the stream ends with 'response.output_item.done'",
        "the stream does not have exactly one end event",
    ]


def test_a_responses_stream_numbered_out_of_order_fails() -> None:
    body = stream("responses").replace(b'"sequence_number":2', b'"sequence_number":7', 1)
    assert answer_problems("responses", 200, SSE, body) == ["event 2 has sequence_number 7"]


def test_a_responses_error_event_that_is_not_followed_by_the_failed_response_fails() -> None:
    encoder = CODECS["responses"].stream_encoder(REQUEST, "r", "m")
    body = encoder.encode(TextDelta("Hi")) + encoder.encode_error(502, "api_error", "cut")
    body = body.rsplit(b"event: response.failed", 1)[0]
    assert "an error event not followed by response.failed alone" in answer_problems(
        "responses", 200, SSE, body
    )


def test_a_responses_event_breaking_its_schema_fails() -> None:
    body = stream("responses").replace(b'"content_index":0,"delta"', b'"delta"', 1)
    assert answer_problems("responses", 200, SSE, body) == [
        "event 4: .: 'content_index' is a required property"
    ]


def test_a_response_still_in_progress_is_no_answer() -> None:
    answer = orjson.loads(CODECS["responses"].encode_response(ANSWER, REQUEST, "r", "m"))
    body = orjson.dumps(answer | {"status": "in_progress"})
    assert answer_problems("responses", 200, JSON, body) == [
        "an answer whose status is 'in_progress'"
    ]


EMBEDDINGS = OpenAIEmbeddingsClientCodec()
VECTORS = EmbeddingResponse("m", [[0.5, -0.25], [1.0, 0.0]], 2)


def embeddings_answer(encoding: str) -> bytes:
    request = EmbeddingRequest("m", ["a", "b"], encoding_format=encoding)  # type: ignore[arg-type]
    return EMBEDDINGS.encode_response(VECTORS, request, "m", 2)


def test_our_own_embeddings_answers_pass_as_floats_and_as_base64() -> None:
    for encoding in ("float", "base64"):
        assert answer_problems("openai_embeddings", 200, JSON, embeddings_answer(encoding)) == []
    error = EMBEDDINGS.encode_error(400, "invalid_request", "bad", "input")
    assert answer_problems("openai_embeddings", 400, JSON, error) == []


def test_an_embeddings_answer_missing_usage_or_holding_null_fails() -> None:
    document = orjson.loads(embeddings_answer("float"))
    del document["usage"]
    assert answer_problems("openai_embeddings", 200, JSON, orjson.dumps(document)) != []
    document = orjson.loads(embeddings_answer("float"))
    document["data"][0]["embedding"][0] = None  # what a NaN becomes in JSON
    assert answer_problems("openai_embeddings", 200, JSON, orjson.dumps(document)) != []


def test_base64_that_is_not_whole_float32_values_fails() -> None:
    document = orjson.loads(embeddings_answer("base64"))
    document["data"][0]["embedding"] = "AAAAAAA="  # five bytes
    problems = answer_problems("openai_embeddings", 200, JSON, orjson.dumps(document))
    assert "data/0/embedding: not whole float32 values" in problems


def test_vectors_of_different_lengths_or_out_of_order_fail() -> None:
    document = orjson.loads(embeddings_answer("float"))
    document["data"][1]["embedding"].append(0.5)
    document["data"][0]["index"] = 1
    problems = answer_problems("openai_embeddings", 200, JSON, orjson.dumps(document))
    assert problems == [
        "data: vectors of 2 different lengths",
        "data: indexes do not run 0..n-1",
    ]


def test_an_embeddings_error_under_200_fails() -> None:
    error = EMBEDDINGS.encode_error(400, "invalid_request", "bad")
    assert answer_problems("openai_embeddings", 200, JSON, error) == ["a 200 carries an error"]
