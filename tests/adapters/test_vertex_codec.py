"""The Vertex AI codec: Gemini and Claude on a regional endpoint, with the Gemini and
Anthropic codecs' own bodies; answers, errors and streams read by their shape."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from typing import Any

import orjson
import pytest

from adapters import (
    ChatRequest,
    Feature,
    Message,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCallDelta,
    adapter_features,
    provider_codec,
)
from tests.fakes import Call, Ok, stream_bytes

BASE = "https://europe-west1-aiplatform.googleapis.com"
OPTIONS = {"region": "europe-west1", "project": "acme-llm"}
CLAUDE = ProviderTarget(BASE, "claude-sonnet-4-5@20250929", None, OPTIONS)
GEMINI = ProviderTarget(BASE, "gemini-2.5-pro", None, OPTIONS)
HELLO = ChatRequest("default", [Message("user", [TextPart("Hello")])], user="user-7")
PREFIX = f"{BASE}/v1/projects/acme-llm/locations/europe-west1/publishers"


def encode(request: ChatRequest, target: ProviderTarget) -> tuple[str, dict[str, Any]]:
    http = provider_codec("vertex").encode_request(request, target)
    return http.url, orjson.loads(http.body)


def test_claude_goes_to_raw_predict_with_the_vertex_anthropic_version_and_no_model() -> None:
    url, body = encode(replace(HELLO, service_tier="auto"), CLAUDE)
    assert url == f"{PREFIX}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
    assert body["anthropic_version"] == "vertex-2023-10-16"
    # Anthropic's API-only fields are not sent (README, Request fields).
    assert not {"model", "service_tier", "metadata"} & set(body)
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]


def test_claude_streams_from_stream_raw_predict() -> None:
    url, body = encode(replace(HELLO, stream=True), CLAUDE)
    assert url.endswith(":streamRawPredict")
    assert body["stream"] is True


def test_gemini_takes_the_gemini_body_on_generate_content() -> None:
    url, body = encode(HELLO, GEMINI)
    assert url == f"{PREFIX}/google/models/gemini-2.5-pro:generateContent"
    assert body == {"contents": [{"role": "user", "parts": [{"text": "Hello"}]}]}
    url, _ = encode(replace(HELLO, stream=True), GEMINI)
    assert url.endswith(":streamGenerateContent?alt=sse")


def test_what_a_model_honours_follows_its_publisher() -> None:
    claude = adapter_features("vertex", CLAUDE.model)
    gemini = adapter_features("vertex", GEMINI.model)
    assert Feature.SEED in gemini and Feature.SEED not in claude
    assert Feature.SERIAL_TOOL_CALLS in claude and Feature.SERIAL_TOOL_CALLS not in gemini
    # Anthropic's own API fields are not Vertex's.
    assert not {Feature.INFERENCE_GEO, Feature.FAST_MODE, Feature.SERVICE_TIER} & claude
    assert adapter_features("vertex") == claude & gemini


def test_a_claude_answer_and_a_gemini_answer_are_each_read_by_their_shape() -> None:
    codec = provider_codec("vertex")
    claude = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "Bonjour"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 2},
    }
    gemini = {
        "candidates": [
            {"content": {"parts": [{"text": "Hallo"}], "role": "model"}, "finishReason": "STOP"}
        ],
        "modelVersion": "gemini-2.5-pro",
    }
    assert codec.decode_response(json.dumps(claude).encode()).content[0].text == "Bonjour"
    assert codec.decode_response(json.dumps(gemini).encode()).content[0].text == "Hallo"


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def google_error(code: int, status: str, message: str = "no") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (529, anthropic_error("overloaded_error", "Overloaded"), ProviderErrorKind.OVERLOADED),
        (400, anthropic_error("invalid_request_error", "bad"), ProviderErrorKind.INVALID_REQUEST),
        (
            429,
            google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded"),
            ProviderErrorKind.RATE_LIMITED,
        ),
        (401, google_error(401, "UNAUTHENTICATED"), ProviderErrorKind.AUTH),
        (403, google_error(403, "PERMISSION_DENIED"), ProviderErrorKind.AUTH),
        (404, google_error(404, "NOT_FOUND"), ProviderErrorKind.INVALID_REQUEST),
        (503, google_error(503, "UNAVAILABLE", "down"), ProviderErrorKind.SERVER_ERROR),
    ],
)
def test_errors_are_read_in_anthropics_shape_or_googles(
    status: int, body: dict[str, Any], kind: ProviderErrorKind
) -> None:
    error = provider_codec("vertex").decode_error(status, {}, json.dumps(body).encode())
    assert error.kind is kind


def decode(data: bytes, cuts: list[int] | None = None) -> list[StreamEvent]:
    decoder = provider_codec("vertex").stream_decoder()
    points = [0, *(cuts or []), len(data)]
    events: list[StreamEvent] = []
    for a, b in itertools.pairwise(points):
        events += decoder.feed(data[a:b])
    return events + decoder.close()


def same(a: list[StreamEvent], b: list[StreamEvent]) -> bool:
    """Equal but for the ids the Gemini codec makes up for calls that come without one."""

    def plain(events: list[StreamEvent]) -> list[StreamEvent]:
        return [replace(e, id=None) if isinstance(e, ToolCallDelta) else e for e in events]

    return plain(a) == plain(b)


CALL = Ok(text="Hi there", tool_calls=(Call("get_weather", {"city": "Oslo"}, id="toolu_1"),))


@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_a_stream_of_either_kind_is_read_from_any_split(protocol: str) -> None:
    data = stream_bytes(protocol, CALL)  # type: ignore[arg-type]
    whole = decode(data)
    assert isinstance(whole[0], StreamStart) and isinstance(whole[-1], StreamEnd)
    assert "".join(e.text for e in whole if isinstance(e, TextDelta)) == "Hi there"
    assert any(isinstance(e, ToolCallDelta) and e.name == "get_weather" for e in whole)
    for cut in range(1, min(len(data), 120)):
        assert same(decode(data, [cut]), whole)


def test_comments_and_blank_lines_before_the_first_event_do_not_decide_the_kind() -> None:
    data = b": keep-alive\n\n" + stream_bytes("anthropic", Ok(text="Hi"))
    assert "".join(e.text for e in decode(data) if isinstance(e, TextDelta)) == "Hi"


@pytest.mark.parametrize("body", [b"", b"<html>502</html>", b"x" * 70_000])
def test_a_body_that_is_no_stream_is_malformed_or_cut(body: bytes) -> None:
    with pytest.raises(ProviderError) as caught:
        decode(body)
    assert caught.value.kind in (
        ProviderErrorKind.MALFORMED_RESPONSE,
        ProviderErrorKind.STREAM_INTERRUPTED,
    )


def test_an_unfinished_first_line_is_held_only_up_to_the_sniffing_limit() -> None:
    decoder = provider_codec("vertex").stream_decoder()
    decoder.feed(b"x" * 1000)
    assert decoder.buffered == 1000
    with pytest.raises(ProviderError):
        decoder.feed(b"x" * 70_000)  # past the limit it is read as Gemini's, and refused
        decoder.close()
