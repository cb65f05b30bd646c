"""A caller's token decides what it may see on every route, read the same way everywhere.

- `POST /v1/decisions` honours the tenants a token is bound to, with the chat routes'
  403: a token bound to `acme-eu` cannot read `globex`'s allowed and denied providers.
- Credentials are read from the same header map on every route: a repeated
  `Authorization` is a 400 on /v1/models and /v1/decisions too (where the first line
  used to win), and two different credentials in one request are refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.api._raw import exchange, port_of
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

EU_APP_TOKEN = "eu-app-token-for-tests"
ANY_APP_TOKEN = "any-app-token-for-tests"
EU_APP = {"Authorization": f"Bearer {EU_APP_TOKEN}"}


@pytest.fixture
async def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RunningSidecar]:
    monkeypatch.setenv("EU_APP_TOKEN", EU_APP_TOKEN)
    monkeypatch.setenv("ANY_APP_TOKEN", ANY_APP_TOKEN)
    async with FakeProvider("openai") as fake:
        settings = build_settings(
            tmp_path,
            [ProviderSpec("eu-one", fake, attributes={"residency": "eu"})],
            server={
                "auth": {
                    "tokens": [
                        {"name": "eu-app", "token_env": "EU_APP_TOKEN", "tenants": ["acme-eu"]},
                        {"name": "any-app", "token_env": "ANY_APP_TOKEN"},
                    ]
                }
            },
        )
        running = await start_sidecar(settings, monkeypatch)
        yield running
        await running.stop()


@pytest.fixture
async def http(sidecar: RunningSidecar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("tenant", ["globex", "sandbox", "acme-eu "])
async def test_a_token_bound_to_a_tenant_reads_no_other_tenants_decision(
    http: httpx.AsyncClient, tenant: str
) -> None:
    response = await http.post("/v1/decisions", json={"tenant": tenant}, headers=EU_APP)

    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "permission_error"  # as on the chat routes
    assert "may not act for tenant" in error["message"]
    assert "allowed" not in response.text and "denied" not in response.text


async def test_a_token_bound_to_a_tenant_reads_that_tenants_decision(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/v1/decisions", json={"tenant": "acme-eu"}, headers=EU_APP)
    assert response.status_code == 200
    assert response.json()["input"]["tenant"] == "acme-eu"


async def test_a_token_bound_to_no_tenant_reads_any_decision(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/decisions",
        json={"tenant": "globex"},
        headers={"Authorization": f"Bearer {ANY_APP_TOKEN}"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (b"GET", b"/v1/models", b""),
        (b"POST", b"/v1/decisions", b'{"tenant": "acme-eu"}'),
    ],
    ids=["models", "decisions"],
)
@pytest.mark.parametrize(
    "first", [b"Authorization:", b"Authorization: Bearer " + ANY_APP_TOKEN.encode()]
)
async def test_a_repeated_authorization_is_a_400_on_every_route(
    sidecar: RunningSidecar, method: bytes, path: bytes, body: bytes, first: bytes
) -> None:
    lines = [
        b"Content-Type: application/json",
        first,
        b"Authorization: Bearer " + EU_APP_TOKEN.encode(),
    ]

    answer = await exchange(port_of(sidecar.url), lines, body, method=method, path=path)

    assert answer.status == 400
    assert "more than once" in answer.json()["error"]["message"]


async def test_two_different_credentials_in_one_request_are_a_400(
    http: httpx.AsyncClient, sidecar: RunningSidecar
) -> None:
    response = await http.post(
        "/v1/chat/completions",
        json={"model": "default", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"X-Tenant-ID": "acme-eu", "x-api-key": ANY_APP_TOKEN, **EU_APP},
    )
    assert response.status_code == 400
    assert "one credential" in response.json()["error"]["message"]
    assert sidecar.audit_events()[-1]["outcome"] == "bad_request"


async def test_the_same_credential_in_both_headers_is_one_credential(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/decisions", json={"tenant": "acme-eu"}, headers={"x-api-key": EU_APP_TOKEN, **EU_APP}
    )
    assert response.status_code == 200
