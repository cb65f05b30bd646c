"""The official SDKs, through the sidecar, get answers from Claude on Bedrock, Claude on
Vertex AI and Gemini on Vertex AI, streamed and not, with tool calls: every request
SigV4-signed or bearer-authenticated, and checked so by the fakes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import pytest
import pytest_asyncio

from tests.fakes import Call, FakeProvider, Ok, all_running
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEADERS = {"X-Tenant-ID": "sandbox"}
ROUTES = {
    "bedrock": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "vertex-claude": "claude-sonnet-4-5@20250929",
    "vertex-gemini": "gemini-2.5-pro",
}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}
ANTHROPIC_TOOL = {"name": "get_weather", "input_schema": WEATHER}
OSLO = Ok(tool_calls=(Call("get_weather", {"city": "Oslo"}, id="toolu_oslo1"),))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    bedrock = FakeProvider("bedrock", name="bedrock")
    vertex = FakeProvider("vertex", name="vertex")
    named = {"bedrock": bedrock, "vertex-claude": vertex, "vertex-gemini": vertex}
    async with all_running(named.values()):
        yield named


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    specs = [
        ProviderSpec("bedrock", fakes["bedrock"], models={"default": ROUTES["bedrock"]}),
        ProviderSpec(
            "vertex",
            fakes["vertex-claude"],
            models={
                "default": ROUTES["vertex-claude"],
                "via-vertex-claude": ROUTES["vertex-claude"],
                "via-vertex-gemini": ROUTES["vertex-gemini"],
            },
        ),
    ]
    specs[0].models["via-bedrock"] = ROUTES["bedrock"]
    settings = build_settings(tmp_path_factory.mktemp("cloud"), specs)
    async with serving(settings) as running:
        yield running
    running.verify_audit()


@pytest.fixture
def openai_client(sidecar: RunningSidecar) -> openai.AsyncOpenAI:
    return sidecar.openai_sdk(HEADERS)


@pytest.fixture
def anthropic_client(sidecar: RunningSidecar) -> anthropic.AsyncAnthropic:
    return sidecar.anthropic_sdk(HEADERS)


@pytest.fixture(params=list(ROUTES))
def route(request: pytest.FixtureRequest, fakes: dict[str, FakeProvider]) -> str:
    name: str = request.param
    fakes[name].reset()
    return name


def checked(fake: FakeProvider) -> None:
    """Every call reached the fake signed as its cloud wants, and none was refused."""
    assert fake.received
    for received in fake.received:
        authorization = received.headers.get("authorization", "")
        if fake.protocol == "bedrock":
            assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
        else:
            assert authorization.startswith("Bearer ya29.fake-")
    door = fake.aws or fake.google
    assert door is not None and door.refusals == []


async def test_openai_sdk_gets_an_answer(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], route: str
) -> None:
    raw = await openai_client.chat.completions.with_raw_response.create(
        model=f"via-{route}", messages=[{"role": "user", "content": "Bonjour"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Bonjour"
    assert completion.usage is not None and completion.usage.prompt_tokens == 11
    assert raw.headers["x-routed-model"] == ROUTES[route]
    checked(fakes[route])


async def test_openai_sdk_streams_an_answer(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], route: str
) -> None:
    stream = await openai_client.chat.completions.create(
        model=f"via-{route}",
        messages=[{"role": "user", "content": "Streamed hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        usage = chunk.usage or usage
    assert text == "Streamed hello"
    assert usage is not None and usage.completion_tokens == 7
    checked(fakes[route])


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
async def test_openai_sdk_gets_a_tool_call(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], route: str, streamed: bool
) -> None:
    fakes[route].script(OSLO)
    messages: Any = [{"role": "user", "content": "Weather in Oslo?"}]
    if not streamed:
        completion = await openai_client.chat.completions.create(
            model=f"via-{route}",
            messages=messages,
            tools=[OPENAI_TOOL],  # type: ignore[list-item]
        )
        choice = completion.choices[0]
        calls = choice.message.tool_calls or []
        finish = choice.finish_reason
        name, arguments = calls[0].function.name, calls[0].function.arguments  # type: ignore[union-attr]
    else:
        stream = await openai_client.chat.completions.create(
            model=f"via-{route}",
            messages=messages,
            tools=[OPENAI_TOOL],
            stream=True,  # type: ignore[list-item]
        )
        name, arguments, finish = "", "", None
        async for chunk in stream:
            for delta in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
                name += (delta.function.name or "") if delta.function else ""
                arguments += (delta.function.arguments or "") if delta.function else ""
            if chunk.choices and chunk.choices[0].finish_reason:
                finish = chunk.choices[0].finish_reason
    assert (name, json.loads(arguments), finish) == ("get_weather", {"city": "Oslo"}, "tool_calls")
    checked(fakes[route])


async def test_openai_sdk_sends_a_tool_result_back_in_the_clouds_own_shape(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], route: str
) -> None:
    call = {
        "id": "toolu_oslo1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    completion = await openai_client.chat.completions.create(
        model=f"via-{route}",
        tools=[OPENAI_TOOL],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": "toolu_oslo1", "content": "sunny, 21 C"},
        ],
    )
    assert completion.choices[0].finish_reason == "stop"
    sent = fakes[route].received[-1].json
    if route == "bedrock":
        result = sent["messages"][-1]["content"][0]["toolResult"]
        assert result == {"toolUseId": "toolu_oslo1", "content": [{"text": "sunny, 21 C"}]}
    elif route == "vertex-claude":
        result = sent["messages"][-1]["content"][0]
        assert (result["type"], result["tool_use_id"]) == ("tool_result", "toolu_oslo1")
    else:
        response = sent["contents"][-1]["parts"][0]["functionResponse"]
        assert response == {"name": "get_weather", "response": {"output": "sunny, 21 C"}}
    checked(fakes[route])


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
async def test_anthropic_sdk_gets_text_and_a_tool_use(
    anthropic_client: anthropic.AsyncAnthropic,
    fakes: dict[str, FakeProvider],
    route: str,
    streamed: bool,
) -> None:
    fakes[route].script(Ok(text="Checking.", tool_calls=OSLO.tool_calls))
    arguments: Any = {
        "model": f"via-{route}",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [ANTHROPIC_TOOL],
    }
    if streamed:
        async with anthropic_client.messages.stream(**arguments) as stream:
            message = await stream.get_final_message()
    else:
        message = await anthropic_client.messages.create(**arguments)
    assert message.stop_reason == "tool_use"
    text = [b.text for b in message.content if b.type == "text"]
    uses = [b for b in message.content if b.type == "tool_use"]
    assert "".join(text) == "Checking."
    assert (uses[0].name, uses[0].input) == ("get_weather", {"city": "Oslo"})
    assert message.usage.output_tokens == 7
    checked(fakes[route])
