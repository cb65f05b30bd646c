"""Request fields reach Bedrock and Vertex AI in their own terms, where the model's vendor
honours them; elsewhere the candidate is skipped, and a request no allowed candidate
can honour is a 400 naming its field. Through the official SDKs, PII redacted.

One sidecar: Claude on Bedrock (`bedrock`), Llama on Bedrock (`llama`), Claude on Vertex
(`vertex-claude`), Gemini on Vertex (`vertex-gemini`), and `mixed`, which Claude on
Bedrock serves first and Gemini on Vertex second.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest
import pytest_asyncio

from tests.fakes import FakeProvider, all_running
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, serving

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEADERS = {"X-Tenant-ID": "sandbox"}
USER = {"role": "user", "content": "Where does jane.roe@example.org live?"}
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
    "additionalProperties": False,
}
JSON_SCHEMA_FORMAT = {"type": "json_schema", "json_schema": {"name": "where", "schema": SCHEMA}}
CLAUDE_BEDROCK = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA_BEDROCK = "eu.meta.llama3-2-3b-instruct-v1:0"
CLAUDE_VERTEX = "claude-sonnet-4-5@20250929"
GEMINI_VERTEX = "gemini-2.5-pro"
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    started = {"bedrock": FakeProvider("bedrock"), "vertex": FakeProvider("vertex")}
    async with all_running(started.values()):
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    bedrock = {"default": CLAUDE_BEDROCK, "bedrock": CLAUDE_BEDROCK, "llama": LLAMA_BEDROCK}
    vertex = {
        "default": GEMINI_VERTEX,
        "vertex-claude": CLAUDE_VERTEX,
        "vertex-gemini": GEMINI_VERTEX,
    }
    specs = [
        ProviderSpec(
            "bedrock", fakes["bedrock"], models=bedrock | {"mixed": CLAUDE_BEDROCK}, priority=1
        ),
        ProviderSpec(
            "vertex", fakes["vertex"], models=vertex | {"mixed": GEMINI_VERTEX}, priority=2
        ),
    ]
    settings = build_settings(tmp_path_factory.mktemp("cloud-fields"), specs)
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
def openai_client(sidecar: RunningSidecar, fakes: dict[str, FakeProvider]) -> openai.AsyncOpenAI:
    for fake in fakes.values():
        fake.reset()
    return sidecar.openai_sdk(HEADERS)


def sent(fake: FakeProvider) -> dict[str, Any]:
    body: dict[str, Any] = fake.received[-1].json
    assert "jane.roe@example.org" not in fake.received[-1].body.decode(), "PII is redacted"
    return body


@pytest.mark.parametrize("alias", ["bedrock", "vertex-gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_json_schema_gets_matching_json_with_pii_restored(
    openai_client: openai.AsyncOpenAI, fakes: dict[str, FakeProvider], alias: str, stream: bool
) -> None:
    kwargs: Any = {"model": alias, "messages": [USER], "response_format": JSON_SCHEMA_FORMAT}
    if stream:
        chunks = await openai_client.chat.completions.create(**kwargs, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
    else:
        text = (await openai_client.chat.completions.create(**kwargs)).choices[
            0
        ].message.content or ""
    answer = json.loads(text)
    jsonschema.validate(answer, SCHEMA)
    assert answer["city"] == USER["content"], "the redacted address is restored inside the JSON"
    if alias == "bedrock":
        definition = sent(fakes["bedrock"])["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
        assert json.loads(definition["schema"]) == SCHEMA
    else:
        assert sent(fakes["vertex"])["generationConfig"]["responseJsonSchema"] == SCHEMA


async def test_anthropic_fields_reach_claude_on_bedrock_as_additional_model_request_fields(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    fakes["bedrock"].reset()
    client = sidecar.anthropic_sdk(HEADERS)
    await client.messages.create(
        model="bedrock",
        max_tokens=2000,
        messages=[{"role": "user", "content": "Hi"}],
        thinking={"type": "enabled", "budget_tokens": 1024},
        extra_body={"top_k": 20},  # the API takes it; this SDK's types no longer list it
    )
    assert sent(fakes["bedrock"])["additionalModelRequestFields"] == {
        "top_k": 20,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }


async def test_a_field_only_claude_takes_is_a_400_on_llama_naming_it(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    body = {
        "model": "llama",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "top_k": 5,
    }
    response = await http.post("/v1/messages", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["message"].endswith("(bedrock cannot honour top_k)")
    assert fakes["bedrock"].received == []


async def test_tool_choice_none_skips_bedrock_for_the_next_candidate(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    body = {"model": "mixed", "messages": [USER], "tools": [TOOL], "tool_choice": "none"}
    response = await http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "vertex"
    assert fakes["bedrock"].received == []
    assert sent(fakes["vertex"])["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}


async def test_the_decisions_endpoint_names_what_bedrock_cannot_honour(
    http: httpx.AsyncClient,
) -> None:
    query = {"tenant": "sandbox", "model": "mixed", "features": ["tool_choice=none", "seed"]}
    result = (await http.post("/v1/decisions", json=query)).json()
    assert result["skipped"] == {"bedrock": ["seed", "tool_choice=none"]}
    assert [step["provider"] for step in result["route"]] == ["vertex"]


async def test_gemini_fields_reach_gemini_on_vertex_and_not_claude_on_vertex(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    fields = {"seed": 11, "presence_penalty": 0.5}
    gemini = await http.post(
        "/v1/chat/completions", json={"model": "vertex-gemini", "messages": [USER], **fields}
    )
    assert gemini.status_code == 200
    config = sent(fakes["vertex"])["generationConfig"]
    assert (config["seed"], config["presencePenalty"]) == (11, 0.5)
    claude = await http.post(
        "/v1/chat/completions", json={"model": "vertex-claude", "messages": [USER], **fields}
    )
    assert claude.status_code == 400
    assert claude.json()["error"]["param"] in fields


async def test_logprobs_come_back_from_gemini_on_vertex(openai_client: openai.AsyncOpenAI) -> None:
    completion = await openai_client.chat.completions.create(
        model="vertex-gemini",
        messages=[{"role": "user", "content": "two words"}],
        logprobs=True,
        top_logprobs=2,
    )
    assert completion.choices[0].logprobs is not None
    tokens = completion.choices[0].logprobs.content or []
    assert "".join(t.token for t in tokens) == "two words"


async def test_claude_on_vertex_gets_anthropic_fields_but_none_of_anthropics_own_api(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    body = {
        "model": "vertex-claude",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "Hi"}],
        "top_k": 3,
        "service_tier": "auto",
        "metadata": {"user_id": "u-1"},
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    }
    assert (await http.post("/v1/messages", json=body)).status_code == 200
    received = sent(fakes["vertex"])
    assert received["top_k"] == 3
    assert received["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert not {"service_tier", "metadata", "model"} & set(received)
    refused = await http.post("/v1/messages", json=body | {"inference_geo": "us"})
    assert refused.status_code == 400 and "inference_geo" in refused.json()["error"]["message"]
