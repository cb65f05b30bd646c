"""ConverseStream's AWS event stream, read frame by frame with botocore's parser: from any
split, CRCs checked, exceptions mapped, hostile frames refused without buffering them."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import (
    ProviderError,
    ProviderErrorKind,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    Usage,
    provider_codec,
)
from tests.fakes import _eventstream as es

USAGE = {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13}
STREAM = [
    es.event("messageStart", {"role": "assistant"}),
    es.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
    es.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}}),
    es.event("contentBlockStop", {"contentBlockIndex": 0}),
    es.event(
        "contentBlockStart",
        {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tu_1", "name": "f"}}},
    ),
    es.event(
        "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a"'}}}
    ),
    es.event(
        "contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": ": 1}"}}}
    ),
    es.event("contentBlockStop", {"contentBlockIndex": 1}),
    es.event("messageStop", {"stopReason": "tool_use"}),
    es.event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 100}}),
]
EXPECTED: list[StreamEvent] = [
    StreamStart("", ""),
    TextDelta("Hel"),
    TextDelta("lo"),
    ToolCallDelta(0, "tu_1", "f", ""),
    ToolCallDelta(0, None, None, '{"a"'),
    ToolCallDelta(0, None, None, ": 1}"),
    StreamEnd("tool_calls", Usage(9, 4)),
]


def decode(chunks: list[bytes]) -> list[StreamEvent]:
    decoder = provider_codec("bedrock").stream_decoder()
    events: list[StreamEvent] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events + decoder.close()


def failure(chunks: list[bytes]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        decode(chunks)
    return caught.value


def test_a_stream_gives_its_text_tool_call_stop_reason_and_usage() -> None:
    assert decode([b"".join(STREAM)]) == EXPECTED


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=600), min_size=1, max_size=40))
def test_any_split_of_the_bytes_gives_the_same_events(cuts: list[int]) -> None:
    data = b"".join(STREAM)
    points = sorted({min(c, len(data)) for c in cuts} | {len(data)})
    chunks = [data[a:b] for a, b in zip([0, *points], points, strict=False) if a < b]
    assert decode(chunks) == EXPECTED


def test_one_byte_at_a_time_holds_only_the_frame_being_gathered() -> None:
    decoder = provider_codec("bedrock").stream_decoder()
    data = b"".join(STREAM)
    most = 0
    for n in range(len(data)):
        decoder.feed(data[n : n + 1])
        most = max(most, decoder.buffered)
    assert most < max(len(frame) for frame in STREAM)
    assert decoder.buffered == 0


def test_unknown_event_types_and_reasoning_deltas_are_passed_over() -> None:
    extra = [
        es.event("somethingNew", {"x": 1}),
        es.event(
            "contentBlockDelta",
            {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "hmm"}}},
        ),
    ]
    assert decode([STREAM[0], *extra, *STREAM[1:]]) == EXPECTED


def test_a_stream_without_metadata_ends_at_its_stop_without_usage() -> None:
    events = decode([STREAM[0], STREAM[1], es.event("messageStop", {"stopReason": "max_tokens"})])
    assert events[-1] == StreamEnd("length", None)


@pytest.mark.parametrize(
    ("exception", "kind"),
    [
        ("throttlingException", ProviderErrorKind.RATE_LIMITED),
        ("serviceUnavailableException", ProviderErrorKind.OVERLOADED),
        ("internalServerException", ProviderErrorKind.SERVER_ERROR),
        ("modelStreamErrorException", ProviderErrorKind.SERVER_ERROR),
        ("validationException", ProviderErrorKind.INVALID_REQUEST),
        ("aBrandNewException", ProviderErrorKind.SERVER_ERROR),
    ],
)
def test_an_exception_frame_is_the_providers_error(exception: str, kind: ProviderErrorKind) -> None:
    error = failure([STREAM[0], STREAM[1], es.exception(exception, "words from AWS")])
    assert (error.kind, error.provider_code, error.message) == (kind, exception, "words from AWS")


def test_an_error_message_frame_is_the_providers_error() -> None:
    headers = {
        ":message-type": "error",
        ":error-code": "ThrottlingException",
        ":error-message": "slow",
    }
    error = failure([es.frame(headers, b"")])
    assert (error.kind, error.message) == (ProviderErrorKind.RATE_LIMITED, "slow")


@pytest.mark.parametrize(
    ("cut", "kind"),
    [
        (len(STREAM) - 2, ProviderErrorKind.STREAM_INTERRUPTED),  # no messageStop
        (1, ProviderErrorKind.STREAM_INTERRUPTED),
    ],
)
def test_a_stream_cut_before_its_stop_is_interrupted(cut: int, kind: ProviderErrorKind) -> None:
    assert failure(STREAM[:cut]).kind is kind


def test_a_stream_cut_mid_frame_is_interrupted() -> None:
    data = b"".join(STREAM[:3])
    assert failure([data[:-7]]).kind is ProviderErrorKind.STREAM_INTERRUPTED


@pytest.mark.parametrize(
    "body",
    [
        b"data: {}\n\n",  # server-sent events, not AWS frames
        b"<html><body>502 Bad Gateway</body></html>",
        es.corrupt(STREAM[1]),  # the message CRC no longer matches
        STREAM[1][:8] + b"\x00\x00\x00\x00" + STREAM[1][12:],  # the prelude CRC is wrong
        struct.pack(">II", 2**31, 0) + struct.pack(">I", zlib.crc32(struct.pack(">II", 2**31, 0))),
        struct.pack(">II", 20, 50) + struct.pack(">I", zlib.crc32(struct.pack(">II", 20, 50))),
    ],
    ids=["sse", "html", "message-crc", "prelude-crc", "huge-length", "headers-past-end"],
)
def test_bytes_that_are_not_sound_frames_are_malformed_at_once(body: bytes) -> None:
    decoder = provider_codec("bedrock").stream_decoder()
    with pytest.raises(ProviderError) as caught:
        decoder.feed(STREAM[0] + body + b"\x00" * 64)
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


def test_a_frame_header_of_an_unknown_type_is_malformed() -> None:
    name = b":message-type"
    headers = struct.pack(">B", len(name)) + name + b"\x0f"  # type 15 does not exist
    total = 12 + len(headers) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers
    frame = message + struct.pack(">I", zlib.crc32(message))
    assert failure([frame]).kind is ProviderErrorKind.MALFORMED_RESPONSE


@pytest.mark.parametrize(
    "hostile",
    [
        es.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": 5}}),
        es.event("contentBlockDelta", {"contentBlockIndex": -1, "delta": {"text": "x"}}),
        es.event(
            "contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{"}}}
        ),
        es.event(
            "contentBlockStart", {"contentBlockIndex": 1, "start": {"toolUse": {"name": "f"}}}
        ),
        es.event("messageStop", {"stopReason": ["end_turn"]}),
        es.event("metadata", {"usage": {"inputTokens": 2**40}}),
        es.event("metadata", {"usage": {"outputTokens": 1.5}}),
        es.frame({":message-type": "event", ":event-type": "messageStop"}, b"not json"),
        es.frame({":message-type": "surprise"}, b"{}"),
    ],
)
def test_hostile_values_in_a_frame_are_malformed(hostile: bytes) -> None:
    error = failure([STREAM[0], hostile, *STREAM[8:]])
    assert error.kind is ProviderErrorKind.MALFORMED_RESPONSE


def test_more_tool_calls_than_the_index_bound_are_malformed() -> None:
    starts = [
        es.event(
            "contentBlockStart",
            {"contentBlockIndex": n, "start": {"toolUse": {"toolUseId": f"t{n}", "name": "f"}}},
        )
        for n in range(1100)
    ]
    assert failure([STREAM[0], *starts]).kind is ProviderErrorKind.MALFORMED_RESPONSE
