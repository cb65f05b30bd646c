"""Caller authentication: tokens, tenant binding, 401/403 with audit records."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from policy_engine._config import parse_config
from policy_engine._errors import ConfigError
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
EU_APP_TOKEN = "eu-app-token-for-tests"
ANY_APP_TOKEN = "any-tenant-token-for-tests"


@pytest.fixture
async def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningSidecar]:
    monkeypatch.setenv("EU_APP_TOKEN", EU_APP_TOKEN)
    token_file = tmp_path / "any-app.token"
    token_file.write_text(ANY_APP_TOKEN + "\n")
    async with FakeProvider("openai") as fake:
        settings = build_settings(
            tmp_path,
            [ProviderSpec("eu-one", fake, attributes={"residency": "eu"})],
            redaction={"undetectable": "record"},  # acme-eu asks for PERSON; no NER here
            server={
                "auth": {
                    "tokens": [
                        {"name": "eu-app", "token_env": "EU_APP_TOKEN", "tenants": ["acme-eu"]},
                        {"name": "any-app", "token_file": str(token_file)},
                    ]
                }
            },
        )
        running = await start_sidecar(settings, monkeypatch)
        yield running
        await running.stop()


async def test_a_request_without_credentials_is_a_401_and_is_audited(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post(
        "/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": "acme-eu"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    event = sidecar.audit_events()[-1]
    assert (event["outcome"], event["status"]) == ("unauthenticated", 401)


async def test_a_wrong_token_is_a_401_and_the_token_is_not_echoed(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"X-Tenant-ID": "acme-eu", "Authorization": "Bearer not-a-real-one"},
    )
    assert response.status_code == 401
    assert "not-a-real-one" not in response.text
    assert "not-a-real-one" not in str(sidecar.audit_events())


async def test_the_openai_sdk_authenticates_with_its_api_key(sidecar: RunningSidecar) -> None:
    client = openai.AsyncOpenAI(
        base_url=f"{sidecar.url}/v1",
        api_key=EU_APP_TOKEN,
        default_headers={"X-Tenant-ID": "acme-eu"},
        max_retries=0,
    )
    completion = await client.chat.completions.create(**CHAT)  # type: ignore[call-overload]
    assert completion.choices[0].message.content == "Hi"
    assert sidecar.audit_events()[-1]["caller"] == "eu-app"


async def test_the_anthropic_sdk_authenticates_with_x_api_key(sidecar: RunningSidecar) -> None:
    client = anthropic.AsyncAnthropic(
        base_url=sidecar.url,
        api_key=ANY_APP_TOKEN,
        default_headers={"X-Tenant-ID": "sandbox"},
        max_retries=0,
    )
    message = await client.messages.create(
        model="default", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].type == "text"


async def test_a_token_bound_to_one_tenant_cannot_claim_another(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"X-Tenant-ID": "sandbox", "Authorization": f"Bearer {EU_APP_TOKEN}"},
    )
    assert response.status_code == 403
    event = sidecar.audit_events()[-1]
    assert (event["outcome"], event["caller"], event["tenant"]) == (
        "forbidden",
        "eu-app",
        "sandbox",
    )


async def test_models_and_decisions_need_credentials_too(http: httpx.AsyncClient) -> None:
    assert (await http.get("/v1/models")).status_code == 401
    assert (await http.post("/v1/decisions", json={"tenant": "acme-eu"})).status_code == 401
    authorized = {"Authorization": f"Bearer {ANY_APP_TOKEN}"}
    assert (await http.get("/v1/models", headers=authorized)).status_code == 200


async def test_probes_and_metrics_need_no_credentials(http: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await http.get(path)).status_code == 200


def test_a_token_can_be_configured_by_its_sha256_only(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"secret").hexdigest()
    raw = {
        "server": {"auth": {"tokens": [{"name": "app", "token_sha256": digest}]}},
        "providers": [
            {
                "id": "p",
                "adapter": "openai",
                "base_url": "http://127.0.0.1:1/v1",
                "models": {"default": "m"},
            }
        ],
        "audit": {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k.pem")},
    }
    assert parse_config(raw).server.auth.tokens[0].token_sha256 == digest


def test_listening_beyond_loopback_without_tokens_is_refused(tmp_path: Path) -> None:
    raw = {
        "server": {"host": "0.0.0.0"},
        "providers": [
            {
                "id": "p",
                "adapter": "openai",
                "base_url": "http://127.0.0.1:1/v1",
                "models": {"default": "m"},
            }
        ],
        "audit": {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k.pem")},
    }
    with pytest.raises(ConfigError, match=r"auth\.tokens"):
        parse_config(raw)
