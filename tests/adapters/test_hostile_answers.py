"""Provider answers with a wrong value in every field: read as valid, or malformed.

Each provider codec reads an answer into the shared model; the model's values then reach
the audit record, the metrics and the client. So a decoded answer either holds only
values of the right type and within bounds, and both client protocols can write it
back, or decoding fails with a ProviderError (the router then falls back). Nothing else:
no ValueError, TypeError or RecursionError that would end as a 500.

The valid answers come from the fakes' dialects; every field of each (every leaf and
every container, in every stream event) is replaced in turn by each hostile value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest

from adapters import (
    CLIENT_PROTOCOLS,
    ChatResponse,
    FinishReason,
    ProviderError,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ToolCallDelta,
    Usage,
    client_codec,
    provider_codec,
)
from adapters._validate import MAX_ID_CHARS, MAX_TOKEN_COUNT, MAX_TOOL_INDEX, too_deep
from tests.fakes import Protocol
from tests.fakes._hostile import (
    nested,
    paths,
    replaced,
    stream_wire,
    valid_plain,
    valid_stream,
)

PROTOCOLS: list[Protocol] = ["openai", "anthropic", "gemini"]

HOSTILE: dict[str, Any] = {
    "string": "abc",
    "empty-string": "",
    "negative": -5,
    "huge": 2**63,
    "past-64-bits": 10**30,
    "float": 5.5,
    "float-huge": 1e300,
    "true": True,
    "null": None,
    "list": [1, "a"],
    "object": {"x": {"y": 1}},
    "deep": nested(150),
    "long-string": "i" * 10_000,
}


def _valid_id(value: str | None, optional: bool = False) -> None:
    if optional and value is None:
        return
    assert isinstance(value, str) and len(value) <= MAX_ID_CHARS


def _valid_usage(usage: Usage | None) -> None:
    if usage is None:
        return
    for count in (usage.input_tokens, usage.output_tokens):
        assert type(count) is int and 0 <= count <= MAX_TOKEN_COUNT


def _valid_arguments(arguments: str) -> None:
    assert isinstance(arguments, str) and not too_deep(arguments)


def assert_valid_response(response: ChatResponse) -> None:
    _valid_id(response.id)
    _valid_id(response.model)
    assert all(isinstance(part.text, str) for part in response.content)
    for call in response.tool_calls:
        _valid_id(call.id)
        _valid_id(call.name)
        _valid_arguments(call.arguments)
    assert response.finish_reason in get_args(FinishReason)
    _valid_usage(response.usage)
    request = client_codec("openai").decode_request(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )
    for protocol in CLIENT_PROTOCOLS:
        json.loads(client_codec(protocol).encode_response(response, request, "r1", response.model))


def assert_valid_events(events: list[StreamEvent]) -> None:
    for event in events:
        if isinstance(event, StreamStart):
            _valid_id(event.id)
            _valid_id(event.model)
            _valid_usage(event.usage)
        elif isinstance(event, TextDelta):
            assert isinstance(event.text, str)
        elif isinstance(event, ToolCallDelta):
            assert type(event.index) is int and 0 <= event.index <= MAX_TOOL_INDEX
            _valid_id(event.id, optional=True)
            _valid_id(event.name, optional=True)
            assert isinstance(event.arguments, str)
        else:
            assert isinstance(event, StreamEnd)
            assert event.finish_reason in get_args(FinishReason)
            _valid_usage(event.usage)
    request = client_codec("openai").decode_request(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    )
    for protocol in CLIENT_PROTOCOLS:
        encoder = client_codec(protocol).stream_encoder(request, "r1", "m")
        for event in events:
            encoder.encode(event)


def plain_cases() -> Iterator[Any]:
    for protocol in PROTOCOLS:
        document = valid_plain(protocol)
        for path in paths(document):
            for name in HOSTILE:
                label = f"{protocol}-{'.'.join(map(str, path))}-{name}"
                yield pytest.param(protocol, path, name, id=label)


def stream_cases() -> Iterator[Any]:
    for protocol in PROTOCOLS:
        for index, (_, data) in enumerate(valid_stream(protocol)):
            for path in paths(data):
                for name in HOSTILE:
                    label = f"{protocol}-event{index}-{'.'.join(map(str, path))}-{name}"
                    yield pytest.param(protocol, index, path, name, id=label)


@pytest.mark.parametrize(("protocol", "path", "hostile"), list(plain_cases()))
def test_a_hostile_field_in_an_answer_is_read_as_valid_or_malformed(
    protocol: Protocol, path: tuple[Any, ...], hostile: str
) -> None:
    body = json.dumps(replaced(valid_plain(protocol), path, HOSTILE[hostile])).encode()
    try:
        response = provider_codec(protocol).decode_response(body)
    except ProviderError:
        return
    assert_valid_response(response)


@pytest.mark.parametrize(("protocol", "event", "path", "hostile"), list(stream_cases()))
def test_a_hostile_field_in_a_stream_event_is_read_as_valid_or_malformed(
    protocol: Protocol, event: int, path: tuple[Any, ...], hostile: str
) -> None:
    events = valid_stream(protocol)
    head, data = events[event]
    events[event] = (head, replaced(data, path, HOSTILE[hostile]))
    decoder = provider_codec(protocol).stream_decoder()
    try:
        decoded = decoder.feed(stream_wire(events)) + decoder.close()
    except ProviderError:
        return
    assert_valid_events(decoded)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("hostile", ["string", "negative", "huge", "float", "float-huge"])
def test_usage_that_is_not_a_token_count_is_a_malformed_answer(
    protocol: Protocol, hostile: str
) -> None:
    document = valid_plain(protocol)
    usage_key = {"openai": "usage", "anthropic": "usage", "gemini": "usageMetadata"}[protocol]
    first_count = next(iter(document[usage_key]))
    body = json.dumps(replaced(document, (usage_key, first_count), HOSTILE[hostile]))
    with pytest.raises(ProviderError) as caught:
        provider_codec(protocol).decode_response(body.encode())
    assert caught.value.kind.value == "malformed_response"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_arguments_nested_300_deep_are_a_malformed_answer(protocol: Protocol) -> None:
    document = valid_plain(protocol)
    deep = nested(150)  # 300 containers: past orjson's encoding limit, under its parser's
    if protocol == "openai":
        path: tuple[Any, ...] = ("choices", 0, "message", "tool_calls", 0, "function")
        document = replaced(document, (*path, "arguments"), json.dumps(deep))
    elif protocol == "anthropic":
        document = replaced(document, ("content", 1, "input"), deep)
    else:
        path = ("candidates", 0, "content", "parts", 1, "functionCall", "args")
        document = replaced(document, path, deep)
    with pytest.raises(ProviderError) as caught:
        provider_codec(protocol).decode_response(json.dumps(document).encode())
    assert caught.value.kind.value == "malformed_response"


def test_a_streamed_tool_call_index_that_is_not_a_number_is_a_malformed_answer() -> None:
    events = valid_stream("openai")
    calls = [
        (n, data)
        for n, (_, data) in enumerate(events)
        if isinstance(data, dict)
        and data["choices"]
        and "tool_calls" in data["choices"][0]["delta"]
    ]
    n, data = calls[0]
    events[n] = (
        events[n][0],
        replaced(data, ("choices", 0, "delta", "tool_calls", 0, "index"), "abc"),
    )
    decoder = provider_codec("openai").stream_decoder()
    with pytest.raises(ProviderError) as caught:
        decoder.feed(stream_wire(events))
    assert caught.value.kind.value == "malformed_response"
