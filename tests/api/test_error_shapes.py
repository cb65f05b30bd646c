"""Every error under /v1/ is in the protocol's own error JSON, chat route or not.

OpenAI clients get `{"error": {"message", "type", "param", "code"}}` with the same
type and code values as the chat route; a request that looks Anthropic (an
`anthropic-version` header, or a /v1/messages path) gets `{"type": "error", "error":
{"type", "message"}}`. Plain-text `Not Found` would break both SDKs' error parsing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

TOKEN = "caller-token-for-tests"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
ANTHROPIC = {"anthropic-version": "2023-06-01", "x-api-key": TOKEN}


@pytest.fixture
async def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningSidecar]:
    monkeypatch.setenv("CALLER_TOKEN", TOKEN)
    async with FakeProvider("openai") as fake:
        settings = build_settings(
            tmp_path,
            [ProviderSpec("us-one", fake, attributes={"residency": "us"})],
            server={
                "max_body_bytes": 512,
                "auth": {"tokens": [{"name": "app", "token_env": "CALLER_TOKEN"}]},
            },
        )
        running = await start_sidecar(settings, monkeypatch)
        yield running
        await running.stop()


def openai_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error


def anthropic_error(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    error: dict[str, Any] = body["error"]
    return error


async def test_an_unknown_route_under_v1_is_a_404_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/completions-that-do-not-exist", headers=AUTHORIZED)
    assert response.status_code == 404
    error = openai_error(response)
    assert (error["type"], error["code"]) == ("not_found_error", "not_found")


async def test_the_bare_v1_prefix_is_a_404_in_the_openai_shape(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1")
    assert response.status_code == 404
    assert openai_error(response)["code"] == "not_found"


async def test_an_unknown_route_is_a_404_in_the_anthropic_shape_for_anthropic_clients(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/v1/complete", headers=ANTHROPIC, json={})
    assert response.status_code == 404
    assert anthropic_error(response)["type"] == "not_found_error"


async def test_an_unknown_route_under_v1_messages_is_anthropic_without_the_header(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/v1/messages/count_tokens", json={})
    assert response.status_code == 404
    assert anthropic_error(response)["type"] == "not_found_error"


async def test_a_wrong_method_on_the_chat_route_is_a_405_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/chat/completions", headers=AUTHORIZED)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    error = openai_error(response)
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_request")
    assert "POST" in error["message"]


async def test_a_wrong_method_on_the_messages_route_is_a_405_in_the_anthropic_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.delete("/v1/messages")
    assert response.status_code == 405
    assert anthropic_error(response)["type"] == "invalid_request_error"


async def test_a_wrong_method_on_models_and_decisions_is_a_405_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    for response in (
        await http.post("/v1/models", headers=AUTHORIZED, json={}),
        await http.get("/v1/decisions", headers=AUTHORIZED),
    ):
        assert response.status_code == 405
        assert openai_error(response)["code"] == "invalid_request"


async def test_models_without_credentials_is_a_401_in_the_chat_routes_shape(
    http: httpx.AsyncClient,
) -> None:
    chat = await http.post("/v1/chat/completions", json={}, headers={"X-Tenant-ID": "sandbox"})
    models = await http.get("/v1/models")
    assert models.status_code == chat.status_code == 401
    error = openai_error(models)
    assert (error["type"], error["code"]) == ("authentication_error", "authentication")
    assert {k: v for k, v in error.items() if k != "message"} == {
        k: v for k, v in openai_error(chat).items() if k != "message"
    }


async def test_models_without_credentials_is_a_401_in_the_anthropic_shape_for_anthropic_clients(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/v1/models", headers={"anthropic-version": "2023-06-01"})
    assert response.status_code == 401
    assert anthropic_error(response)["type"] == "authentication_error"


async def test_decisions_without_credentials_is_a_401_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/v1/decisions", json={"tenant": "sandbox"})
    assert response.status_code == 401
    assert openai_error(response)["type"] == "authentication_error"


async def test_a_bad_decision_query_is_a_400_naming_the_field_in_param(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/decisions", json={"tenant": "sandbox", "stream": "maybe"}, headers=AUTHORIZED
    )
    assert response.status_code == 400
    error = openai_error(response)
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "invalid_request",
        "stream",
    )


async def test_a_malformed_routing_value_in_a_decision_query_is_a_400_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/decisions", json={"tenant": "sandbox", "privacy_tags": ["<x>"]}, headers=AUTHORIZED
    )
    assert response.status_code == 400
    assert openai_error(response)["code"] == "invalid_request"


async def test_an_oversized_decision_query_is_a_413_in_the_openai_shape(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/decisions", json={"tenant": "sandbox", "model": "m" * 1024}, headers=AUTHORIZED
    )
    assert response.status_code == 413
    assert openai_error(response)["code"] == "request_too_large"


async def test_routes_outside_v1_keep_their_plain_answers(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/nothing-here")).status_code == 404
