"""The non-chat endpoints: models, dry-run decisions, health and readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar


@pytest.fixture
async def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningSidecar]:
    async with FakeProvider("openai") as eu, FakeProvider("gemini") as us:
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec(
                    "eu-one",
                    eu,
                    attributes={"residency": "eu"},
                    models={"default": "m", "smart": "m2"},
                ),
                ProviderSpec("us-one", us, attributes={"residency": "us"}),
            ],
        )
        running = await start_sidecar(settings, monkeypatch)
        yield running
        await running.stop()


async def test_models_lists_the_logical_aliases_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    body = (await http.get("/v1/models")).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["default", "smart"]


async def test_models_answers_in_the_anthropic_shape_to_anthropic_clients(
    http: httpx.AsyncClient,
) -> None:
    body = (await http.get("/v1/models", headers={"anthropic-version": "2023-06-01"})).json()
    assert [m["id"] for m in body["data"]] == ["default", "smart"]
    assert body["has_more"] is False


async def test_a_dry_run_decision_explains_denials_and_the_route(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post("/v1/decisions", json={"tenant": "acme-eu", "model": "default"})
    assert response.status_code == 200
    body = response.json()
    assert body["decision"]["allowed"] == ["eu-one"]
    assert any("residency" in reason for reason in body["decision"]["denied"]["us-one"])
    assert [step["provider"] for step in body["route"]] == ["eu-one"]
    assert "EMAIL_ADDRESS" in body["route"][0]["redact"]
    assert sidecar.audit_events() == []  # a dry run sends and records nothing


async def test_a_dry_run_with_a_bad_field_is_a_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/decisions", json={"tenant": "acme-eu", "stream": "maybe"})
    assert response.status_code == 400
    assert "stream" in response.json()["error"]["message"]


async def test_healthz_and_readyz_are_green_when_policy_and_audit_are_ready(
    http: httpx.AsyncClient,
) -> None:
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "policy": True,
        "audit": True,
        "providers": True,
        "providers_not_ready": {},
    }


async def test_a_model_alias_is_retrieved_in_the_openai_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/models/smart")
    assert response.status_code == 200
    assert response.json() == {
        "id": "smart",
        "object": "model",
        "created": 0,
        "owned_by": "policy-engine",
    }


async def test_a_model_alias_is_retrieved_in_the_anthropic_shape_for_anthropic_clients(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/models/default", headers={"anthropic-version": "2023-06-01"})
    assert response.status_code == 200
    body = response.json()
    assert (body["type"], body["id"], body["display_name"]) == ("model", "default", "default")


async def test_an_unknown_model_is_a_404_listing_the_aliases(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/models/gpt-17")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("not_found_error", "not_found")
    assert "'gpt-17'" in error["message"] and "default, smart" in error["message"]


async def test_an_unknown_model_is_a_404_in_the_anthropic_shape_for_anthropic_clients(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/models/gpt-17", headers={"anthropic-version": "2023-06-01"})
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


async def test_a_model_name_with_a_slash_is_looked_up_whole(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/models/meta-llama/Llama-3.1-8B")
    assert response.status_code == 404
    assert "meta-llama/Llama-3.1-8B" in response.json()["error"]["message"]


async def test_an_unknown_model_that_looks_like_pii_is_not_echoed(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/models/4111 1111 1111 1111")
    assert response.status_code == 404
    assert "4111" not in response.text
