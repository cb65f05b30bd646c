import orjson
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from stdnum import luhn

from adapters import ResponsesClientCodec, TextPart
from bench.gateway._payload import (
    API_MODES,
    EMBEDDING_DIMENSIONS,
    EMBEDDING_MODEL,
    body_for,
    completion_json,
    completion_sse,
    embedding_json,
    prompt_text,
    request_body,
    request_headers,
    response_json,
    response_sse,
)
from policy_engine.redaction import STRUCTURED_TYPES, default_redactor
from tests.conformance._recorder import answer_problems


def _events(stream: bytes) -> list[bytes]:
    return [event.removeprefix(b"data: ") for event in stream.split(b"\n\n") if event]


def test_request_is_about_one_kilobyte() -> None:
    assert 900 <= len(request_body(stream=False)) <= 1200


def test_streamed_request_asks_for_a_stream_with_usage() -> None:
    body = orjson.loads(request_body(stream=True))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


def test_request_carries_the_routing_headers() -> None:
    headers = request_headers()
    assert headers["X-Tenant-ID"] == "sandbox"
    assert headers["X-Privacy-Tags"] == "pii"


def test_prompt_holds_an_email_a_phone_and_a_card_the_redactor_finds() -> None:
    session = default_redactor().session()
    session.redact_text(prompt_text(), frozenset(STRUCTURED_TYPES))
    assert session.counts == {"CREDIT_CARD": 1, "EMAIL_ADDRESS": 1, "PHONE_NUMBER": 1}


def test_card_number_in_the_prompt_passes_luhn() -> None:
    assert luhn.is_valid("4111111111111111")
    assert "4111 1111 1111 1111" in prompt_text()


def test_canned_completion_is_a_valid_openai_chat_completion() -> None:
    completion = ChatCompletion.model_validate_json(completion_json())
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None


def test_canned_stream_is_openai_chunks_ending_with_done() -> None:
    events = _events(completion_sse())
    assert events[-1] == b"[DONE]"
    chunks = [ChatCompletionChunk.model_validate_json(e) for e in events[:-1]]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert any(c.choices and c.choices[0].finish_reason == "stop" for c in chunks)


def test_the_responses_request_is_the_same_prompt_the_sidecar_reads() -> None:
    request = ResponsesClientCodec().decode_request(
        orjson.loads(request_body(stream=True, api="responses"))
    )
    assert request.stream and request.max_tokens == 256
    assert request.messages[0].content[0] == TextPart(prompt_text())


def test_the_canned_responses_answers_are_openais_published_shape() -> None:
    assert answer_problems("responses", 200, "application/json", response_json()) == []
    assert answer_problems("responses", 200, "text/event-stream", response_sse()) == []


def test_the_embeddings_request_embeds_the_same_prompt_as_floats() -> None:
    body = orjson.loads(body_for("embeddings"))
    assert body == {"model": EMBEDDING_MODEL, "input": [prompt_text()], "encoding_format": "float"}


def test_the_canned_embeddings_answer_is_one_published_shape_vector() -> None:
    answer = embedding_json()
    assert answer_problems("openai_embeddings", 200, "application/json", answer) == []
    assert len(orjson.loads(answer)["data"][0]["embedding"]) == EMBEDDING_DIMENSIONS


def test_each_api_sends_its_own_request_in_json_and_stream() -> None:
    assert "embeddings" not in API_MODES["responses"]
    for api, modes in API_MODES.items():
        for mode in set(modes) - {"embeddings"}:
            body = orjson.loads(body_for(mode, api))
            assert ("input" in body) == (api == "responses")
            assert body.get("stream", False) == (mode == "stream")
