"""No request field can change where a provider call goes: base URLs come from config only.

A decoy provider listens on its own port and is named in every place an attacker
might try (model, Host, forwarding and provider headers, base-URL-looking body
fields, `user`, `extra_body`, `metadata`); it must never receive a byte, and the
configured provider must receive every call at its own path and host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web

from tests.fakes import FakeProvider
from tests.security._support import KEY_ENV, UrlSpec
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, chat_once, start_sidecar


@pytest.fixture
async def decoy() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="decoy") as fake:
        yield fake


@pytest.fixture
async def alpha() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as fake:
        yield fake


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, alpha: FakeProvider
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(tmp_path, [ProviderSpec("alpha", alpha, attributes={})])
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


def attempts_for(decoy_url: str) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    """(name, headers, extra body fields) for each redirection attempt."""
    host = urlsplit(decoy_url).netloc
    url_fields = ("base_url", "api_base", "endpoint", "url", "baseURL", "azure_endpoint")
    return [
        ("model as a URL", {}, {"model": f"{decoy_url}/chat/completions"}),
        ("Host header", {"Host": host}, {}),
        ("X-Forwarded-Host", {"X-Forwarded-Host": host, "X-Forwarded-Proto": "http"}, {}),
        ("X-Provider-URL", {"X-Provider-URL": decoy_url, "X-Base-URL": decoy_url}, {}),
        ("Forwarded", {"Forwarded": f"host={host};proto=http"}, {}),
        ("X-Original-URL", {"X-Original-URL": decoy_url, "X-Rewrite-URL": decoy_url}, {}),
        ("body URL fields", {}, dict.fromkeys(url_fields, decoy_url)),
        ("extra_body", {}, {"extra_body": dict.fromkeys(url_fields, decoy_url)}),
        ("user", {}, {"user": decoy_url}),
        ("metadata", {}, {"metadata": {"base_url": decoy_url}}),
        ("provider field", {}, {"provider": {"base_url": decoy_url, "only": ["decoy"]}}),
    ]


async def test_no_request_field_redirects_a_provider_call(
    sidecar: RunningSidecar, alpha: FakeProvider, decoy: FakeProvider
) -> None:
    cases = attempts_for(decoy.base_url)
    answered = 0
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http:
        for name, headers, fields in cases:
            body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], **fields}
            response = await http.post(
                "/v1/chat/completions", json=body, headers={"X-Tenant-ID": "sandbox", **headers}
            )
            # Fields the protocol does not define are refused by name, never obeyed.
            assert response.status_code in (200, 400, 404), name
            answered += response.status_code == 200

    assert decoy.received == []
    alpha_host = urlsplit(alpha.base_url).netloc
    assert all(r.path == "/v1/chat/completions" for r in alpha.received)
    assert {r.headers["Host"] for r in alpha.received} == {alpha_host}
    assert len(alpha.received) == answered >= 6, "every header case and user, metadata answered"


async def test_anthropic_requests_cannot_be_redirected_either(
    sidecar: RunningSidecar, alpha: FakeProvider, decoy: FakeProvider
) -> None:
    host = urlsplit(decoy.base_url).netloc
    body = {
        "model": "default",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
        "metadata": {"user_id": decoy.base_url},
    }
    headers = {"X-Tenant-ID": "sandbox", "X-Forwarded-Host": host, "anthropic-version": "1"}
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http:
        answered = await http.post("/v1/messages", json=body, headers=headers)
        refused = await http.post(
            "/v1/messages", json=body | {"base_url": decoy.base_url}, headers=headers
        )

    assert answered.status_code == 200
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].startswith("unknown field 'base_url'")
    assert decoy.received == []
    assert len(alpha.received) == 1


async def test_a_redirect_from_the_provider_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, decoy: FakeProvider
) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{decoy.base_url}/chat/completions")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    monkeypatch.setenv(KEY_ENV, "test-key")
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    settings = build_settings(tmp_path, [UrlSpec("redirector", url, {"default": "m"})])
    body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
    try:
        response, _ = await chat_once(settings, monkeypatch, body, {"X-Tenant-ID": "sandbox"})
    finally:
        await runner.cleanup()

    assert response.status_code == 503
    assert decoy.received == []
