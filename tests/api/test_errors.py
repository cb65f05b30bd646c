"""Bad input and refusals: a precise error in the protocol's shape, an audit record, no crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
MESSAGES = {"model": "default", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="us-only") as provider:
        yield provider


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path,
        [ProviderSpec("us-only", fake, attributes={"residency": "us", "region": "us-east-1"})],
        server={"max_body_bytes": 2048},
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


async def chat(
    http: httpx.AsyncClient, body: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    if isinstance(body, bytes):
        return await http.post("/v1/chat/completions", content=body, headers=headers or {})
    return await http.post("/v1/chat/completions", json=body, headers=headers or {})


def openai_error(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"message", "type", "code"}
    return error


async def test_a_missing_tenant_header_is_a_400_naming_the_header(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fake: FakeProvider
) -> None:
    response = await chat(http, CHAT)
    assert response.status_code == 400
    assert "X-Tenant-ID" in openai_error(response)["message"]
    assert fake.received == []
    assert sidecar.audit_events()[-1]["outcome"] == "bad_request"


async def test_an_unknown_tenant_is_a_400_with_an_audit_record(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fake: FakeProvider
) -> None:
    response = await chat(http, CHAT, {"X-Tenant-ID": "nobody"})
    assert response.status_code == 400
    assert "unknown tenant" in openai_error(response)["message"]
    event = sidecar.audit_events()[-1]
    assert (event["tenant"], event["outcome"]) == ("nobody", "bad_request")
    assert event["policy"]["tenant_known"] is False
    assert fake.received == []


async def test_malformed_json_is_a_400_in_the_openai_shape(http: httpx.AsyncClient) -> None:
    response = await chat(http, b'{"model": ', {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 400
    assert openai_error(response)["type"] == "invalid_request_error"


async def test_a_wrongly_typed_field_is_a_400_naming_the_field(http: httpx.AsyncClient) -> None:
    response = await chat(http, {"model": "default", "messages": "Hi"}, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 400
    assert "messages" in openai_error(response)["message"]


async def test_an_oversized_body_is_a_413_audited_and_counted_as_a_bad_request(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 4096}]}
    response = await chat(http, big, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 413
    assert openai_error(response)["code"] == "request_too_large"
    event = sidecar.audit_events()[-1]
    assert (event["status"], event["outcome"]) == (413, "bad_request")
    assert event["error_type"] == "request_too_large"
    metrics = (await http.get("/metrics")).text
    assert 'policy_engine_requests_total{outcome="bad_request",protocol="openai"} 1.0' in metrics


async def test_an_oversized_anthropic_body_is_a_413_audited_as_a_bad_request(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    big = {**MESSAGES, "messages": [{"role": "user", "content": "x" * 4096}]}
    response = await http.post("/v1/messages", json=big, headers={"X-Tenant-ID": "sandbox"})
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert sidecar.audit_events()[-1]["outcome"] == "bad_request"


async def test_an_unknown_model_alias_is_a_404(http: httpx.AsyncClient) -> None:
    response = await chat(http, {**CHAT, "model": "gpt-17"}, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 404
    assert "gpt-17" in openai_error(response)["message"]


async def test_a_policy_that_allows_no_provider_is_a_403_with_the_reasons(
    http: httpx.AsyncClient, sidecar: RunningSidecar, fake: FakeProvider
) -> None:
    response = await chat(http, CHAT, {"X-Tenant-ID": "acme-eu"})
    assert response.status_code == 403
    assert "residency" in openai_error(response)["message"]
    assert fake.received == []
    event = sidecar.audit_events()[-1]
    assert event["outcome"] == "denied"
    assert event["policy"]["denied"]["us-only"]


async def test_a_header_cannot_loosen_the_tenants_residency(
    http: httpx.AsyncClient, fake: FakeProvider
) -> None:
    response = await chat(http, CHAT, {"X-Tenant-ID": "acme-eu", "X-Data-Residency": "us"})
    assert response.status_code == 403
    assert fake.received == []


async def test_a_malformed_routing_header_is_a_400(http: httpx.AsyncClient) -> None:
    response = await chat(http, CHAT, {"X-Tenant-ID": "sandbox", "X-Privacy-Tags": "pii,<x>"})
    assert response.status_code == 400
    assert "X-Privacy-Tags" in openai_error(response)["message"]


async def test_anthropic_errors_use_the_anthropic_shape(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/messages", json=MESSAGES)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "X-Tenant-ID" in body["error"]["message"]


async def test_every_error_response_carries_a_request_id(http: httpx.AsyncClient) -> None:
    response = await chat(http, CHAT)
    assert response.headers["x-request-id"]


async def test_errors_leave_a_verifiable_log(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    await chat(http, CHAT)
    await chat(http, CHAT, {"X-Tenant-ID": "nobody"})
    await chat(http, b"not json", {"X-Tenant-ID": "sandbox"})
    assert len(sidecar.audit_events()) == 3
    await sidecar.stop()
    sidecar.verify_audit()


async def test_an_unexpected_bug_still_answers_in_shape_and_is_audited(
    http: httpx.AsyncClient,
    sidecar: RunningSidecar,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("bug while holding ada@example.com")

    monkeypatch.setattr(sidecar.sidecar.router, "plan", explode)
    response = await chat(http, CHAT, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 500
    assert openai_error(response)["message"] == "internal error"
    assert sidecar.audit_events()[-1]["outcome"] == "internal_error"
    assert "ada@example.com" not in capsys.readouterr().out


async def test_an_openai_error_names_the_bad_parameter(http: httpx.AsyncClient) -> None:
    response = await chat(http, {"model": "default", "messages": "Hi"}, {"X-Tenant-ID": "sandbox"})
    assert openai_error(response)["param"] == "messages"
