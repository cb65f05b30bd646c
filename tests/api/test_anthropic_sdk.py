"""The official anthropic SDK, pointed at the sidecar by base_url alone, just works,
even when the providers behind it speak OpenAI and Gemini."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anthropic
import pytest
from anthropic.types import (
    MessageParam,
    RawContentBlockDeltaEvent,
    TextBlock,
    TextDelta,
    ToolParam,
    ToolUseBlock,
)

from tests.fakes import Call, FakeProvider, Ok, ServerError
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

HEADERS = {"X-Tenant-ID": "sandbox"}
USER: MessageParam = {"role": "user", "content": "Hi"}


def text_of(content: Sequence[object]) -> str:
    return "".join(block.text for block in content if isinstance(block, TextBlock))


def tool_use(content: Sequence[object]) -> ToolUseBlock:
    return next(block for block in content if isinstance(block, ToolUseBlock))


@pytest.fixture
async def primary() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="primary") as fake:  # echoes the user
        yield fake


@pytest.fixture
async def backup() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("gemini", name="backup", reply="hello from backup") as fake:
        yield fake


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, primary: FakeProvider, backup: FakeProvider
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("primary", primary, priority=1),
            ProviderSpec("backup", backup, priority=2),
        ],
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


@pytest.fixture
def client(sidecar: RunningSidecar) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=sidecar.url, api_key="unused", default_headers=HEADERS, max_retries=0
    )


async def test_a_plain_message_is_answered_by_the_first_candidate(
    client: anthropic.AsyncAnthropic,
) -> None:
    raw = await client.messages.with_raw_response.create(
        model="default", max_tokens=64, messages=[USER]
    )
    message = await raw.parse()
    assert [block.type for block in message.content] == ["text"]
    assert text_of(message.content) == "Hi"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert raw.headers["x-routed-provider"] == "primary"
    assert raw.headers["x-request-id"]


async def test_the_stream_helper_assembles_the_text_and_the_final_message(
    client: anthropic.AsyncAnthropic,
) -> None:
    async with client.messages.stream(model="default", max_tokens=64, messages=[USER]) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "Hi"
    assert final.stop_reason == "end_turn"
    assert text_of(final.content) == "Hi"


async def test_a_raw_event_stream_runs_from_message_start_to_message_stop(
    client: anthropic.AsyncAnthropic,
) -> None:
    stream = await client.messages.create(
        model="default", max_tokens=64, messages=[USER], stream=True
    )
    events = [event async for event in stream]
    assert events[0].type == "message_start"
    assert events[-1].type == "message_stop"
    deltas = [e.delta for e in events if isinstance(e, RawContentBlockDeltaEvent)]
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "Hi"


async def test_the_system_prompt_reaches_the_provider_as_its_system_message(
    client: anthropic.AsyncAnthropic, primary: FakeProvider
) -> None:
    await client.messages.create(
        model="default", max_tokens=64, system="Answer in one word.", messages=[USER]
    )
    sent = primary.received[-1].json["messages"]
    assert sent[0] == {"role": "system", "content": "Answer in one word."}
    assert sent[-1]["role"] == "user"


WEATHER_TOOL: ToolParam = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


async def test_a_tool_call_and_its_result_make_a_round_trip(
    client: anthropic.AsyncAnthropic, primary: FakeProvider
) -> None:
    primary.script(
        Ok(tool_calls=(Call("get_weather", {"city": "Paris"}, id="call_1"),)),
        Ok(text="It is sunny in Paris."),
    )
    question: MessageParam = {"role": "user", "content": "Weather in Paris?"}

    first = await client.messages.create(
        model="default",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[question],
    )
    assert first.stop_reason == "tool_use"
    call = tool_use(first.content)
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    assert primary.received[-1].json["tools"][0]["function"]["name"] == "get_weather"

    second = await client.messages.create(
        model="default",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[
            question,
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}],
            },
        ],
    )
    assert text_of(second.content) == "It is sunny in Paris."
    sent = primary.received[-1].json["messages"]
    assert sent[1]["tool_calls"][0]["id"] == call.id
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[2] == {"role": "tool", "tool_call_id": call.id, "content": "sunny"}


async def test_a_streamed_tool_call_arrives_with_its_complete_input(
    client: anthropic.AsyncAnthropic, primary: FakeProvider
) -> None:
    primary.script(Ok(tool_calls=(Call("get_weather", {"city": "Paris"}),)))

    async with client.messages.stream(
        model="default",
        max_tokens=64,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
    ) as stream:
        final = await stream.get_final_message()

    assert final.stop_reason == "tool_use"
    call = tool_use(final.content)
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})


async def test_a_failing_openai_provider_falls_back_to_the_gemini_one(
    client: anthropic.AsyncAnthropic,
    primary: FakeProvider,
    backup: FakeProvider,
    sidecar: RunningSidecar,
) -> None:
    primary.script(ServerError(500))

    raw = await client.messages.with_raw_response.create(
        model="default", max_tokens=64, messages=[USER]
    )

    assert text_of((await raw.parse()).content) == "hello from backup"
    assert raw.headers["x-routed-provider"] == "backup"
    assert len(backup.received) == 1
    record = sidecar.audit_events()[-1]
    assert [(a["provider"], a["outcome"]) for a in record["attempts"]] == [
        ("primary", "server_error"),
        ("backup", "ok"),
    ]


async def test_a_streamed_message_falls_back_before_its_first_byte(
    client: anthropic.AsyncAnthropic, primary: FakeProvider, sidecar: RunningSidecar
) -> None:
    primary.script(ServerError(503))

    async with client.messages.stream(model="default", max_tokens=64, messages=[USER]) as stream:
        text = "".join([piece async for piece in stream.text_stream])

    assert text == "hello from backup"
    record = sidecar.audit_events()[-1]
    assert (record["provider"], record["outcome"]) == ("backup", "answered")


async def test_a_provider_error_reaches_the_sdk_as_its_own_exception(
    client: anthropic.AsyncAnthropic, primary: FakeProvider, backup: FakeProvider
) -> None:
    primary.always(ServerError(500))
    backup.always(ServerError(500))

    with pytest.raises(anthropic.APIStatusError) as raised:
        await client.messages.create(model="default", max_tokens=64, messages=[USER])

    assert raised.value.status_code >= 500
    assert raised.value.response.headers["x-request-id"]
