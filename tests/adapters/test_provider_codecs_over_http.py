"""Each provider codec against its fake provider, over real loopback HTTP.

The fakes are written from the providers' docs and share no code with the codecs, so
these tests catch a codec that misreads the wire format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import orjson
import pytest

from adapters import (
    ChatRequest,
    ChatResponse,
    Message,
    ProviderCodec,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    Usage,
    provider_codec,
)
from tests.fakes import (
    Call,
    ContentFilter,
    FakeProvider,
    InvalidRequest,
    MalformedJSON,
    MalformedSSE,
    Ok,
    Overloaded,
    RateLimited,
    ServerError,
    StreamCut,
    Unauthorized,
    Unavailable,
    WrongContentType,
)

PROTOCOLS = ["openai", "azure_openai", "anthropic", "gemini"]
MODELS = {
    "openai": "gpt-test",
    "azure_openai": "my-deployment",
    "anthropic": "claude-test",
    "gemini": "gemini-test",
}


@pytest.fixture(params=PROTOCOLS)
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeProvider]:
    async with FakeProvider(request.param) as provider:
        yield provider


def target(fake: FakeProvider, api_key: str = "test-key") -> ProviderTarget:
    return ProviderTarget(
        base_url=fake.base_url,
        model=MODELS[fake.protocol],
        api_key=api_key,
        options={"api_version": "2024-10-21"},
    )


def ask(text: str = "Hello there", *, stream: bool = False, tools: bool = False) -> ChatRequest:
    weather = Tool(
        "get_weather",
        "Weather for a city",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    return ChatRequest(
        model="default",
        messages=[Message("user", [TextPart(text)])],
        system=["Be brief."],
        tools=[weather] if tools else [],
        stream=stream,
    )


async def send(
    codec: ProviderCodec, target: ProviderTarget, request: ChatRequest
) -> ChatResponse | list[StreamEvent]:
    """What the router does: one HTTP exchange, the codec reads the answer."""
    http = codec.encode_request(request, target)
    async with (
        aiohttp.ClientSession() as session,
        session.request(http.method, http.url, headers=dict(http.headers), data=http.body) as resp,
    ):
        if resp.status >= 300:
            raise codec.decode_error(resp.status, resp.headers, await resp.read())
        if not request.stream:
            return codec.decode_response(await resp.read())
        decoder = codec.stream_decoder()
        events: list[StreamEvent] = []
        async for chunk in resp.content.iter_any():
            events += decoder.feed(chunk)
        return events + decoder.close()


async def complete(fake: FakeProvider, request: ChatRequest) -> ChatResponse:
    result = await send(provider_codec(fake.protocol), target(fake), request)
    assert isinstance(result, ChatResponse)
    return result


async def stream(fake: FakeProvider, request: ChatRequest) -> list[StreamEvent]:
    result = await send(provider_codec(fake.protocol), target(fake), request)
    assert isinstance(result, list)
    return result


@dataclass
class Assembled:
    text: str
    calls: list[tuple[str, str, str]]  # id, name, arguments
    end: StreamEnd


def assemble(events: list[StreamEvent]) -> Assembled:
    assert isinstance(events[0], StreamStart)
    assert isinstance(events[-1], StreamEnd)
    assert not any(isinstance(e, StreamStart | StreamEnd) for e in events[1:-1])
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    calls: dict[int, list[str]] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            if e.id is not None:
                calls[e.index] = [e.id, e.name or "", ""]
            calls[e.index][2] += e.arguments
    return Assembled(text, [(c[0], c[1], c[2]) for _, c in sorted(calls.items())], events[-1])


async def test_plain_answer_carries_the_reply_text_usage_and_stop(fake: FakeProvider) -> None:
    fake.script(Ok(text="Bonjour", usage=(12, 3)))
    response = await complete(fake, ask())
    assert [p.text for p in response.content] == ["Bonjour"]
    assert response.finish_reason == "stop"
    assert response.usage == Usage(12, 3)


async def test_fake_echoes_the_last_user_message_by_default(fake: FakeProvider) -> None:
    response = await complete(fake, ask("echo me: Jane Placeholder"))
    assert [p.text for p in response.content] == ["echo me: Jane Placeholder"]


async def test_length_stop_maps_to_length(fake: FakeProvider) -> None:
    fake.script(Ok(text="cut", finish="length"))
    assert (await complete(fake, ask())).finish_reason == "length"


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
async def test_output_filtered_mid_answer_finishes_as_content_filter(
    fake: FakeProvider, streamed: bool
) -> None:
    """OpenAI/Azure finish_reason content_filter, Claude stop_reason refusal, Gemini
    finishReason SAFETY: the answer arrives, cut short by the provider's filter."""
    fake.script(Ok(text="partial", finish="content_filter"))
    result = await send(provider_codec(fake.protocol), target(fake), ask(stream=streamed))
    if isinstance(result, ChatResponse):
        assert result.finish_reason == "content_filter"
    else:
        assert assemble(result).end.finish_reason == "content_filter"


async def test_tool_calls_come_back_with_their_json_arguments(fake: FakeProvider) -> None:
    fake.script(Ok(text="", tool_calls=(Call("get_weather", {"city": "Zürich", "days": [1, 2]}),)))
    response = await complete(fake, ask(tools=True))
    assert response.finish_reason == "tool_calls"
    [call] = response.tool_calls
    assert call.name == "get_weather"
    assert call.id
    assert orjson.loads(call.arguments) == {"city": "Zürich", "days": [1, 2]}


async def test_streamed_text_arrives_in_order_with_usage_at_the_end(fake: FakeProvider) -> None:
    fake.script(Ok(text="The quick brown fox", usage=(9, 4)))
    result = assemble(await stream(fake, ask(stream=True)))
    assert result.text == "The quick brown fox"
    assert result.end == StreamEnd("stop", Usage(9, 4))


async def test_streamed_tool_call_arguments_round_trip(fake: FakeProvider) -> None:
    arguments = {"city": "Köln", "nested": {"a": [1, "two", None]}}
    fake.script(Ok(text="", tool_calls=(Call("get_weather", arguments, id="call_abc"),)))
    result = assemble(await stream(fake, ask(stream=True, tools=True)))
    [(call_id, name, text)] = result.calls
    assert name == "get_weather"
    assert call_id
    assert orjson.loads(text) == arguments
    assert result.end.finish_reason == "tool_calls"


ERRORS = [
    (RateLimited(retry_after=2), ProviderErrorKind.RATE_LIMITED),
    (ServerError(500), ProviderErrorKind.SERVER_ERROR),
    (ServerError(502), ProviderErrorKind.SERVER_ERROR),
    (Unavailable(), ProviderErrorKind.SERVER_ERROR),
    (Overloaded(), ProviderErrorKind.OVERLOADED),
    (InvalidRequest(), ProviderErrorKind.INVALID_REQUEST),
    (Unauthorized(), ProviderErrorKind.AUTH),
]


@pytest.mark.parametrize(("behaviour", "kind"), ERRORS, ids=lambda x: type(x).__name__)
@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
async def test_error_answers_map_to_their_kind(
    fake: FakeProvider, behaviour: object, kind: ProviderErrorKind, streamed: bool
) -> None:
    fake.script(behaviour)  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as caught:
        await send(provider_codec(fake.protocol), target(fake), ask(stream=streamed))
    assert caught.value.kind is kind
    assert caught.value.message


async def test_rate_limit_reports_how_long_to_wait(fake: FakeProvider) -> None:
    """Gemini sends no Retry-After header: the wait is in error.details RetryInfo.retryDelay."""
    fake.script(RateLimited(retry_after=7))
    with pytest.raises(ProviderError) as caught:
        await complete(fake, ask())
    assert caught.value.retry_after == 7
    assert caught.value.status == 429


async def test_wrong_api_key_is_an_auth_error(fake: FakeProvider) -> None:
    with pytest.raises(ProviderError) as caught:
        await send(provider_codec(fake.protocol), target(fake, api_key="wrong"), ask())
    assert caught.value.kind is ProviderErrorKind.AUTH


async def test_unknown_path_is_an_invalid_request(fake: FakeProvider) -> None:
    moved = ProviderTarget(
        base_url=fake.base_url + "/nowhere",
        model=MODELS[fake.protocol],
        api_key="test-key",
        options={"api_version": "2024-10-21"},
    )
    with pytest.raises(ProviderError) as caught:
        await send(provider_codec(fake.protocol), moved, ask())
    assert caught.value.kind is ProviderErrorKind.INVALID_REQUEST
    assert caught.value.status == 404


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "stream"])
async def test_content_filter_is_reported(fake: FakeProvider, streamed: bool) -> None:
    """OpenAI/Azure refuse with a 400, Gemini with promptFeedback.blockReason (errors);
    Claude answers normally with stop_reason "refusal" (a finish reason)."""
    fake.script(ContentFilter())
    if fake.protocol == "anthropic":
        result = await send(provider_codec(fake.protocol), target(fake), ask(stream=streamed))
        finish = (
            result.finish_reason
            if isinstance(result, ChatResponse)
            else assemble(result).end.finish_reason
        )
        assert finish == "content_filter"
        return
    with pytest.raises(ProviderError) as caught:
        await send(provider_codec(fake.protocol), target(fake), ask(stream=streamed))
    assert caught.value.kind is ProviderErrorKind.CONTENT_FILTER


@pytest.mark.parametrize(
    ("behaviour", "streamed", "kind"),
    [
        (MalformedJSON(), False, ProviderErrorKind.MALFORMED_RESPONSE),
        (MalformedJSON(), True, ProviderErrorKind.MALFORMED_RESPONSE),
        (MalformedSSE(), True, ProviderErrorKind.MALFORMED_RESPONSE),
        (WrongContentType(), False, ProviderErrorKind.MALFORMED_RESPONSE),
        (WrongContentType(), True, ProviderErrorKind.MALFORMED_RESPONSE),
        (StreamCut(after_events=2), True, ProviderErrorKind.STREAM_INTERRUPTED),
        (StreamCut(after_events=0), True, ProviderErrorKind.STREAM_INTERRUPTED),
    ],
    ids=[
        "json",
        "json-stream",
        "sse-stream",
        "content-type",
        "content-type-stream",
        "cut",
        "cut-empty",
    ],
)
async def test_broken_answers_are_retryable_failures(
    fake: FakeProvider, behaviour: object, streamed: bool, kind: ProviderErrorKind
) -> None:
    fake.script(behaviour)  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as caught:
        await send(provider_codec(fake.protocol), target(fake), ask(stream=streamed))
    assert caught.value.kind is kind
    assert caught.value.retryable
