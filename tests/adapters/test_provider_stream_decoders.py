"""Provider stream decoders fed byte by byte, in any split, and in-stream errors."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import (
    ProviderError,
    ProviderErrorKind,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    Usage,
    provider_codec,
)
from tests.fakes import Call, Ok, stream_bytes

PROTOCOLS = ["openai", "azure_openai", "anthropic", "gemini"]
ANSWER = Ok(
    text="Grüße aus Köln 👋",
    tool_calls=(Call("lookup", {"q": "a\nb", "n": [1, 2.5]}),),
    usage=(3, 4),
)


def decode(protocol: str, chunks: list[bytes]) -> list[StreamEvent]:
    decoder = provider_codec(protocol).stream_decoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def summary(events: list[StreamEvent]) -> tuple[str, str, StreamEvent]:
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    arguments = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    return text, arguments, events[-1]


@settings(max_examples=40, deadline=None)
@given(
    protocol=st.sampled_from(PROTOCOLS),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=20),
)
def test_any_split_of_a_stream_decodes_to_the_same_answer(protocol: str, cuts: list[int]) -> None:
    wire = stream_bytes(protocol, ANSWER)  # type: ignore[arg-type]
    points = sorted({min(c, len(wire)) for c in cuts})
    chunks = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]
    text, arguments, end = summary(decode(protocol, chunks))
    assert text == "Grüße aus Köln 👋"
    assert orjson.loads(arguments) == {"q": "a\nb", "n": [1, 2.5]}
    assert end == StreamEnd("tool_calls", Usage(3, 4))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_one_byte_at_a_time_decodes(protocol: str) -> None:
    wire = stream_bytes(protocol, ANSWER)  # type: ignore[arg-type]
    text, _, _ = summary(decode(protocol, [wire[i : i + 1] for i in range(len(wire))]))
    assert text == "Grüße aus Köln 👋"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_stream_cut_before_its_final_event_is_interrupted(protocol: str) -> None:
    wire = stream_bytes(protocol, Ok(text="abc"))  # type: ignore[arg-type]
    last = wire.rstrip(b"\n").rfind(b"\n\n")
    with pytest.raises(ProviderError) as caught:
        decode(protocol, [wire[: last + 2]])
    assert caught.value.kind is ProviderErrorKind.STREAM_INTERRUPTED


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", ProviderErrorKind.OVERLOADED),
        ("rate_limit_error", ProviderErrorKind.RATE_LIMITED),
        ("api_error", ProviderErrorKind.SERVER_ERROR),
        ("invalid_request_error", ProviderErrorKind.INVALID_REQUEST),
    ],
)
def test_anthropic_error_event_mid_stream_raises_its_kind(
    error_type: str, kind: ProviderErrorKind
) -> None:
    """Anthropic: 'We may occasionally send errors in the event stream. For example,
    during periods of high usage, you may receive an overloaded_error.'"""
    wire = stream_bytes("anthropic", Ok(text="abc"))
    head = wire[: wire.find(b"event: content_block_delta")]
    error = orjson.dumps({"type": "error", "error": {"type": error_type, "message": "Overloaded"}})
    with pytest.raises(ProviderError) as caught:
        decode("anthropic", [head, b"event: error\ndata: " + error + b"\n\n"])
    assert caught.value.kind is kind
    assert caught.value.message == "Overloaded"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (
            {"message": "The server had an error", "type": "server_error", "code": None},
            ProviderErrorKind.SERVER_ERROR,
        ),
        (
            {"message": "Rate limit", "type": "requests", "code": "rate_limit_exceeded"},
            ProviderErrorKind.RATE_LIMITED,
        ),
        (
            {"message": "filtered", "type": None, "code": "content_filter"},
            ProviderErrorKind.CONTENT_FILTER,
        ),
    ],
)
def test_openai_error_chunk_mid_stream_raises_its_kind(
    error: dict[str, str | None], kind: ProviderErrorKind
) -> None:
    wire = stream_bytes("openai", Ok(text="abc"))
    head = wire[: wire.find(b"\n\n") + 2]
    with pytest.raises(ProviderError) as caught:
        decode("openai", [head, b"data: " + orjson.dumps({"error": error}) + b"\n\n"])
    assert caught.value.kind is kind


def test_gemini_error_object_mid_stream_raises_its_kind() -> None:
    error = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    with pytest.raises(ProviderError) as caught:
        decode("gemini", [b"data: " + orjson.dumps(error) + b"\n\n"])
    assert caught.value.kind is ProviderErrorKind.OVERLOADED


def test_openai_chunks_after_done_are_ignored() -> None:
    wire = stream_bytes("openai", Ok(text="abc")) + b'data: {"id": "x", "choices": []}\n\n'
    text, _, end = summary(decode("openai", [wire]))
    assert text == "abc"
    assert isinstance(end, StreamEnd)


def test_azure_prompt_filter_chunk_does_not_start_the_stream() -> None:
    """Azure's first chunk has an empty id and no choices (prompt_filter_results only)."""
    events = decode("azure_openai", [stream_bytes("azure_openai", Ok(text="abc"))])
    assert events[0].id.startswith("chatcmpl-")  # type: ignore[union-attr]


def test_anthropic_unknown_event_types_are_tolerated() -> None:
    """Anthropic's versioning policy: new event types may be added; handle them gracefully."""
    wire = stream_bytes("anthropic", Ok(text="abc"))
    cut = wire.find(b"event: message_stop")
    extra = b'event: brand_new\ndata: {"type": "brand_new"}\n\n'
    text, _, end = summary(decode("anthropic", [wire[:cut], extra, wire[cut:]]))
    assert text == "abc"
    assert isinstance(end, StreamEnd)
