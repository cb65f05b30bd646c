"""A provider whose configured API key is missing is never called without it.

The sidecar starts anyway, so one absent key does not take the other providers down:
the provider is named in a startup log line, in /readyz and in the misconfigured
gauge, the router leaves it out of every plan, and each audit record it was left out
of says why (`skipped`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
UNSET = "POLICY_ENGINE_TEST_KEY_NEVER_SET"


@dataclass
class World:
    sidecar: RunningSidecar
    keyless: FakeProvider
    keyed: FakeProvider
    startup_log: list[dict[str, Any]]


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    monkeypatch.delenv(UNSET, raising=False)
    async with FakeProvider("openai") as keyless, FakeProvider("anthropic") as keyed:
        settings = build_settings(
            tmp_path,
            [
                # Preferred (priority 10), but its key was never set.
                ProviderSpec(
                    "keyless", keyless, {"residency": "us"}, priority=10, api_key_env=UNSET
                ),
                ProviderSpec("keyed", keyed, {"residency": "us"}, priority=20),
            ],
        )
        with capture_logs() as startup_log:
            running = await start_sidecar(settings, monkeypatch)
        yield World(running, keyless, keyed, startup_log)
        await running.stop()


async def chat(world: World, tenant: str = "sandbox") -> httpx.Response:
    async with httpx.AsyncClient(base_url=world.sidecar.url, timeout=10) as http:
        return await http.post("/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": tenant})


async def test_a_provider_without_its_key_is_never_called(world: World) -> None:
    for _ in range(3):
        response = await chat(world)
        assert response.status_code == 200
        assert response.headers["x-routed-provider"] == "keyed"
    assert world.keyless.received == []


async def test_the_audit_record_says_why_the_provider_was_left_out(world: World) -> None:
    await chat(world)
    event = world.sidecar.audit_events()[-1]
    assert event["skipped"] == {"keyless": "no_api_key"}
    assert [a["provider"] for a in event["attempts"]] == ["keyed"]


async def test_a_startup_log_line_names_the_provider_and_its_variable(world: World) -> None:
    warnings = [line for line in world.startup_log if line["event"] == "provider_not_ready"]
    assert [(w["provider"], w["reason"]) for w in warnings] == [
        ("keyless", f"api_key_env {UNSET} is not set")
    ]
    assert warnings[0]["log_level"] == "warning"


async def test_readyz_stays_green_while_another_provider_can_serve_and_names_the_keyless_one(
    world: World,
) -> None:
    async with httpx.AsyncClient(base_url=world.sidecar.url) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["providers_not_ready"] == {"keyless": "no_api_key"}


async def test_the_misconfigured_gauge_is_set_for_the_keyless_provider(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.sidecar.url) as http:
        metrics = (await http.get("/metrics")).text
    assert 'policy_engine_provider_misconfigured{provider="keyless"} 1.0' in metrics


async def test_a_dry_run_leaves_the_keyless_provider_out_of_the_route(world: World) -> None:
    async with httpx.AsyncClient(base_url=world.sidecar.url) as http:
        response = await http.post("/v1/decisions", json={"tenant": "sandbox"})
    body = response.json()
    assert [step["provider"] for step in body["route"]] == ["keyed"]
    assert body["skipped"] == {"keyless": "no_api_key"}


async def test_when_only_keyless_providers_are_allowed_the_request_fails_unsent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(UNSET, raising=False)
    async with FakeProvider("openai") as keyless:
        settings = build_settings(
            tmp_path, [ProviderSpec("keyless", keyless, {"residency": "us"}, api_key_env=UNSET)]
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                response = await http.post(
                    "/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": "sandbox"}
                )
                ready = await http.get("/readyz")
        finally:
            await running.stop()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "providers_unavailable"
    assert "keyless (no_api_key)" in error["message"]
    assert keyless.received == []
    event = running.audit_events()[-1]
    assert (event["outcome"], event["skipped"]) == ("all_failed", {"keyless": "no_api_key"})
    assert ready.status_code == 503
    assert ready.json()["providers"] is False


async def test_a_provider_whose_key_file_is_absent_is_never_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeProvider("gemini") as filed, FakeProvider("openai") as keyed:
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec(
                    "filed",
                    filed,
                    {"residency": "us"},
                    priority=10,
                    api_key_file=str(tmp_path / "no-such-secret"),
                ),
                ProviderSpec("keyed", keyed, {"residency": "us"}, priority=20),
            ],
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                response = await http.post(
                    "/v1/chat/completions",
                    json={**CHAT, "stream": True},
                    headers={"X-Tenant-ID": "sandbox"},
                )
        finally:
            await running.stop()
    assert response.status_code == 200
    assert response.headers["x-routed-provider"] == "keyed"
    assert filed.received == []
