"""Request fields reach the providers that can honour them, translated; the others are
skipped, and a request no allowed provider can honour is a 400 naming its field.

One sidecar, one fake per adapter, an alias per provider (and one, "mixed", that
Anthropic serves first and Gemini second), through the official SDKs.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import jsonschema
import openai
import pytest
import pytest_asyncio

from tests.fakes import FakeProvider, Protocol, all_running
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROTOCOLS: tuple[Protocol, ...] = ("openai", "azure_openai", "anthropic", "gemini")
HEADERS = {"X-Tenant-ID": "sandbox"}
USER = {"role": "user", "content": "Where does jane.roe@example.org live?"}
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "confidence": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string", "enum": ["home", "work"]}},
    },
    "required": ["city", "confidence", "tags"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "whereabouts", "schema": SCHEMA, "strict": True},
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    started = {p: FakeProvider(p, name=p) for p in PROTOCOLS}
    async with all_running(started.values()):
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    mixed = {"anthropic": 1, "gemini": 2}
    specs = [
        ProviderSpec(
            protocol,
            fake,
            models={"default": "m", protocol: f"{protocol}-model"}
            | ({"mixed": f"{protocol}-mixed"} if protocol in mixed else {}),
            priority=mixed.get(protocol, 10),
        )
        for protocol, fake in fakes.items()
    ]
    settings = build_settings(tmp_path_factory.mktemp("fields"), specs)
    async with serving(settings) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def http(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> AsyncIterator[httpx.AsyncClient]:
    for fake in fakes.values():
        fake.reset()
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10, headers=HEADERS) as client:
        yield client


@pytest.fixture
def openai_client(sidecar: RunningSidecar) -> openai.AsyncOpenAI:
    return sidecar.openai_sdk(HEADERS)


@pytest.fixture
def anthropic_client(sidecar: RunningSidecar) -> anthropic.AsyncAnthropic:
    return sidecar.anthropic_sdk(HEADERS)


def sent(fake: FakeProvider) -> dict[str, Any]:
    body: dict[str, Any] = fake.received[-1].json
    return body


def assert_sent_as_json_schema(protocol: str, body: dict[str, Any]) -> None:
    """The provider got the schema in its own JSON-mode fields, PII redacted."""
    if protocol in ("openai", "azure_openai"):
        assert body["response_format"] == JSON_SCHEMA_FORMAT
    elif protocol == "anthropic":
        assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    else:
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseJsonSchema"] == SCHEMA


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_json_schema_gets_matching_json_from_every_provider_that_honours_it(
    openai_client: openai.AsyncOpenAI,
    fakes: dict[str, FakeProvider],
    protocol: str,
    stream: bool,
) -> None:
    fakes[protocol].reset()
    kwargs: Any = {"model": protocol, "messages": [USER], "response_format": JSON_SCHEMA_FORMAT}
    if stream:
        chunks = await openai_client.chat.completions.create(**kwargs, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        completion = await openai_client.chat.completions.create(**kwargs)
        text = completion.choices[0].message.content or ""

    answer = json.loads(text)
    jsonschema.validate(answer, SCHEMA)
    assert answer["city"] == USER["content"], "the redacted address is restored inside the JSON"
    assert_sent_as_json_schema(protocol, sent(fakes[protocol]))
    assert "jane.roe@example.org" not in fakes[protocol].received[-1].body.decode()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_anthropic_structured_output_is_honoured_by_every_provider(
    anthropic_client: anthropic.AsyncAnthropic, fakes: dict[str, FakeProvider], protocol: str
) -> None:
    fakes[protocol].reset()
    message = await anthropic_client.messages.create(
        model=protocol,
        max_tokens=200,
        messages=[{"role": "user", "content": "Where?"}],
        output_config={"format": {"type": "json_schema", "schema": SCHEMA}},
    )
    text = "".join(b.text for b in message.content if b.type == "text")
    jsonschema.validate(json.loads(text), SCHEMA)
    body = sent(fakes[protocol])
    if protocol in ("openai", "azure_openai"):
        assert body["response_format"]["json_schema"]["schema"] == SCHEMA
        assert body["response_format"]["json_schema"]["strict"] is True


async def test_json_mode_routed_to_a_provider_that_cannot_honour_it_is_a_400_naming_the_field(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    body = {"model": "anthropic", "messages": [USER], "response_format": {"type": "json_object"}}

    response = await http.post("/v1/chat/completions", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "response_format"
    assert "anthropic cannot honour response_format=json_object" in error["message"]
    assert fakes["anthropic"].received == [], "nothing was sent"


async def test_the_sdk_raises_when_no_allowed_provider_can_honour_a_field(
    openai_client: openai.AsyncOpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client.chat.completions.create(
            model="gemini", messages=[{"role": "user", "content": "Hi"}], logit_bias={"1": 5}
        )
    assert caught.value.param == "logit_bias"  # type: ignore[attr-defined]


async def test_a_candidate_that_cannot_honour_a_field_is_skipped_for_one_that_can(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    body = {"model": "mixed", "messages": [USER], "response_format": {"type": "json_object"}}

    response = await http.post("/v1/chat/completions", json=body)

    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "gemini"
    assert json.loads(response.json()["choices"][0]["message"]["content"]) == {
        "answer": USER["content"]
    }
    assert fakes["anthropic"].received == []
    assert sent(fakes["gemini"])["generationConfig"] == {"responseMimeType": "application/json"}


async def test_a_plain_request_on_the_same_alias_goes_to_the_first_candidate(
    http: httpx.AsyncClient,
) -> None:
    body = {"model": "mixed", "messages": [USER]}
    response = await http.post("/v1/chat/completions", json=body)
    assert response.headers["x-routed-provider"] == "anthropic"


async def test_the_decisions_endpoint_names_the_skipped_candidates(
    http: httpx.AsyncClient,
) -> None:
    query = {"tenant": "sandbox", "model": "mixed", "features": ["response_format=json_object"]}

    response = await http.post("/v1/decisions", json=query)

    assert response.status_code == 200
    result = response.json()
    assert result["skipped"] == {"anthropic": ["response_format=json_object"]}
    assert [step["provider"] for step in result["route"]] == ["gemini"]


async def test_an_anthropic_client_is_told_the_field_in_its_own_terms(
    http: httpx.AsyncClient,
) -> None:
    body = {
        "model": "anthropic",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
        "top_k": 5,
    }
    response = await http.post("/v1/messages", json=body | {"model": "gemini"})
    assert response.status_code == 400
    assert "tool_choice.disable_parallel_tool_use" in response.json()["error"]["message"]


@pytest.mark.parametrize("protocol", ["openai", "azure_openai", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_logprobs_come_back_from_every_provider_that_has_them(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], protocol: str, stream: bool
) -> None:
    messages: Any = [{"role": "user", "content": "two words"}]
    if stream:
        chunks = await openai_client.chat.completions.create(
            model=protocol, messages=messages, logprobs=True, top_logprobs=2, stream=True
        )
        tokens = [
            token
            async for chunk in chunks
            if chunk.choices and chunk.choices[0].logprobs is not None
            for token in chunk.choices[0].logprobs.content or []
        ]
    else:
        completion = await openai_client.chat.completions.create(
            model=protocol, messages=messages, logprobs=True, top_logprobs=2
        )
        assert completion.choices[0].logprobs is not None
        tokens = completion.choices[0].logprobs.content or []

    assert "".join(t.token for t in tokens) == "two words"
    assert all(len(t.top_logprobs) == 2 and t.logprob < 0 for t in tokens)


async def test_seed_and_penalties_reach_the_provider_in_its_own_terms(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fields = {"seed": 11, "presence_penalty": 0.5, "frequency_penalty": 0.25}
    for protocol in ("azure_openai", "gemini"):
        body = {"model": protocol, "messages": [USER], **fields}
        assert (await http.post("/v1/chat/completions", json=body)).status_code == 200
    azure = sent(fakes["azure_openai"])
    assert (azure["seed"], azure["presence_penalty"], azure["frequency_penalty"]) == (11, 0.5, 0.25)
    config = sent(fakes["gemini"])["generationConfig"]
    assert (config["seed"], config["presencePenalty"], config["frequencyPenalty"]) == (
        11,
        0.5,
        0.25,
    )


async def test_an_obfuscated_stream_pads_every_delta_chunk(http: httpx.AsyncClient) -> None:
    body = {
        "model": "openai",
        "messages": [{"role": "user", "content": "Hi there"}],
        "stream": True,
        "stream_options": {"include_obfuscation": True},
    }
    response = await http.post("/v1/chat/completions", json=body)
    chunks = [
        line.removeprefix(b"data: ")
        for line in response.content.split(b"\n\n")
        if line.startswith(b"data: {")
    ]
    assert chunks and all(b'"obfuscation"' in chunk for chunk in chunks)
    assert all(len(chunk) % 64 == 0 for chunk in chunks)


@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
async def test_a_request_the_providers_wire_format_cannot_carry_is_a_400_not_a_500(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider], protocol: str
) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]

    response = await http.post(
        "/v1/chat/completions", json={"model": protocol, "messages": messages}
    )

    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[1].tool_calls[0].function.arguments"
    assert fakes[protocol].received == []


# -- the Responses API: the same fields under its own names ---------------------------

RESPONSES_JSON_SCHEMA = {
    "format": {"type": "json_schema", "name": "whereabouts", "schema": SCHEMA, "strict": True}
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_responses_text_format_gets_matching_json_from_every_provider(
    openai_client: openai.AsyncOpenAI,
    fakes: dict[str, FakeProvider],
    protocol: str,
    stream: bool,
) -> None:
    fakes[protocol].reset()
    kwargs: Any = {"model": protocol, "input": [USER], "text": RESPONSES_JSON_SCHEMA}
    if stream:
        async with openai_client.responses.stream(**kwargs) as events:
            text = (await events.get_final_response()).output_text
    else:
        text = (await openai_client.responses.create(**kwargs)).output_text

    answer = json.loads(text)
    jsonschema.validate(answer, SCHEMA)
    assert answer["city"] == USER["content"], "the redacted address is restored inside the JSON"
    assert_sent_as_json_schema(protocol, sent(fakes[protocol]))
    assert "jane.roe@example.org" not in fakes[protocol].received[-1].body.decode()


async def test_responses_json_mode_no_allowed_provider_honours_is_a_400_naming_text_format(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    for fake in fakes.values():
        fake.reset()
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client.responses.create(
            model="anthropic", input="Hi", text={"format": {"type": "json_object"}}
        )
    assert caught.value.param == "text.format"  # type: ignore[attr-defined]
    assert "anthropic cannot honour text.format=json_object" in caught.value.message
    assert fakes["anthropic"].received == []


async def test_responses_strict_tools_skip_a_provider_that_cannot_honour_them(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    for fake in fakes.values():
        fake.reset()
    tool = {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": True}
    with pytest.raises(openai.BadRequestError) as caught:
        await openai_client.responses.create(model="gemini", input="Hi", tools=[tool])
    assert caught.value.param == "tools"  # type: ignore[attr-defined]
    assert fakes["gemini"].received == []


async def test_responses_json_mode_is_sent_to_the_candidate_that_honours_it(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider]
) -> None:
    for fake in fakes.values():
        fake.reset()
    raw = await openai_client.responses.with_raw_response.create(
        model="mixed", input=[USER], text={"format": {"type": "json_object"}}
    )
    assert raw.headers["x-routed-provider"] == "gemini"
    assert json.loads(raw.parse().output_text) == {"answer": USER["content"]}
    assert fakes["anthropic"].received == []
