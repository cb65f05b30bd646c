"""A provider's own model name (`gpt-4o`) is served by the providers that map it, as is.

LiteLLM and Portkey users send provider model names. Such a request goes through the
same policy, plan and audit as an alias: the policy sees the name as the requested
model, and only the allowed providers that serve exactly that model are candidates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    async with (
        FakeProvider("openai", name="openai-us") as openai_us,
        FakeProvider("azure_openai", name="azure-eu") as azure_eu,
        FakeProvider("anthropic", name="anthropic-us") as anthropic_us,
    ):
        yield {"openai-us": openai_us, "azure-eu": azure_eu, "anthropic-us": anthropic_us}


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, FakeProvider]
) -> AsyncIterator[RunningSidecar]:
    us = {"residency": "us", "region": "us-east-1"}
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec(
                "openai-us",
                fakes["openai-us"],
                attributes={**us, "cloud": "openai"},
                models={"default": "gpt-4o-mini", "smart": "gpt-4o"},
                priority=10,
            ),
            ProviderSpec(
                "azure-eu",
                fakes["azure-eu"],
                attributes={"residency": "eu", "region": "westeurope", "cloud": "azure"},
                models={"default": "gpt-4o"},
                priority=20,
            ),
            ProviderSpec(
                "anthropic-us",
                fakes["anthropic-us"],
                attributes={**us, "cloud": "aws"},
                models={"default": "claude-3-5-haiku-latest"},
                priority=30,
            ),
        ],
        redaction={"undetectable": "record"},  # acme-eu asks for PERSON; no NER here
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


async def test_a_provider_model_is_sent_as_is_to_a_provider_that_serves_it(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    response = await http.post(
        "/v1/chat/completions", json=chat("gpt-4o"), headers={"X-Tenant-ID": "sandbox"}
    )
    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "openai-us"
    assert fakes["openai-us"].received[-1].json["model"] == "gpt-4o"
    assert fakes["anthropic-us"].received == []


async def test_a_provider_model_is_audited_as_the_requested_model(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    await http.post("/v1/chat/completions", json=chat("gpt-4o"), headers={"X-Tenant-ID": "sandbox"})
    event = sidecar.audit_events()[-1]
    assert (event["outcome"], event["context"]["model"]) == ("answered", "gpt-4o")


async def test_the_policy_sees_a_provider_model_as_the_requested_model(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/v1/decisions", json={"tenant": "sandbox", "model": "gpt-4o"})
    body = response.json()
    assert body["input"]["request"]["model"] == "gpt-4o"
    assert [(s["provider"], s["model"]) for s in body["route"]] == [
        ("openai-us", "gpt-4o"),
        ("azure-eu", "gpt-4o"),
    ]


async def test_a_provider_model_is_still_limited_to_what_the_policy_allows(
    http: httpx.AsyncClient, fakes: dict[str, FakeProvider]
) -> None:
    # acme-eu is bound to the EU: of the two providers serving gpt-4o, only azure-eu.
    response = await http.post(
        "/v1/chat/completions", json=chat("gpt-4o"), headers={"X-Tenant-ID": "acme-eu"}
    )
    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "azure-eu"
    assert fakes["openai-us"].received == []


async def test_a_provider_model_no_allowed_provider_serves_is_a_403_with_the_reasons(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    response = await http.post(
        "/v1/chat/completions",
        json=chat("claude-3-5-haiku-latest"),
        headers={"X-Tenant-ID": "acme-eu"},
    )
    assert response.status_code == 403
    assert "anthropic-us: residency" in response.json()["error"]["message"]
    assert fakes["anthropic-us"].received == []
    assert sidecar.audit_events()[-1]["outcome"] == "denied"


async def test_an_anthropic_client_can_name_a_provider_model(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    client = anthropic.AsyncAnthropic(
        base_url=sidecar.url,
        api_key="unused",
        default_headers={"X-Tenant-ID": "sandbox"},
        max_retries=0,
    )
    message = await client.messages.create(
        model="claude-3-5-haiku-latest",
        max_tokens=16,
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert message.content[0].type == "text"
    assert fakes["anthropic-us"].received[-1].json["model"] == "claude-3-5-haiku-latest"


async def test_a_model_nobody_serves_is_a_404_listing_the_aliases(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post(
        "/v1/chat/completions", json=chat("gpt-5"), headers={"X-Tenant-ID": "sandbox"}
    )
    assert response.status_code == 404
    message = response.json()["error"]["message"]
    assert "'gpt-5'" in message and "aliases: default, smart" in message
    assert sidecar.audit_events()[-1]["outcome"] == "bad_request"


async def test_a_served_provider_model_is_retrieved_from_models(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/models/gpt-4o")
    assert (response.status_code, response.json()["id"]) == (200, "gpt-4o")
