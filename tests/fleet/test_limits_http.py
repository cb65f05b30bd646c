"""Limits at the sidecar's front door: 429 in each protocol's shape, audited, and the
budget in the policy's input; with a real Redis behind them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.fakes import FakeProvider
from tests.servers import RedisServer
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}
MESSAGES = {"model": "default", "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]}
TENANT = {"X-Tenant-ID": "sandbox"}

Start = Callable[..., Awaitable[RunningSidecar]]


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakeProvider, FakeProvider]]:
    async with (
        FakeProvider("openai", name="paid-cloud") as paid,
        FakeProvider("openai", name="onprem") as onprem,
    ):
        yield paid, onprem


@pytest.fixture
async def start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: tuple[FakeProvider, FakeProvider]
) -> AsyncIterator[Start]:
    paid, onprem = fakes
    running: list[RunningSidecar] = []

    async def launch(redis_url: str, **limits: Any) -> RunningSidecar:
        providers = [
            ProviderSpec(
                "paid-cloud",
                paid,
                attributes={"price_per_1m_input": 1000.0, "price_per_1m_output": 1000.0},
                priority=10,
            ),
            ProviderSpec("onprem", onprem, attributes={"self_hosted": True}, priority=100),
        ]
        fleet = {"redis": {"url": redis_url, "timeout_ms": 2000, "retry_s": 30}, "limits": limits}
        settings = build_settings(tmp_path, providers, fleet=fleet)
        sidecar = await start_sidecar(settings, monkeypatch)
        running.append(sidecar)
        return sidecar

    yield launch
    for sidecar in running:
        await sidecar.stop()


async def post(
    sidecar: RunningSidecar,
    path: str = "/v1/chat/completions",
    body: Any = CHAT,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http:
        return await http.post(path, json=body, headers={**TENANT, **(headers or {})})


ONE_PER_MINUTE = {"tenants": {"sandbox": {"requests_per_minute": 1}}}


async def test_a_refusal_is_a_429_in_the_openai_shape_with_retry_after(
    start: Start, redis_server: RedisServer
) -> None:
    sidecar = await start(redis_server.url, **ONE_PER_MINUTE)
    assert (await post(sidecar)).status_code == 200
    refused = await post(sidecar)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit")
    assert "tenant 'sandbox' requests_per_minute (1)" in error["message"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_a_refusal_is_audited_with_the_limit_and_sends_nothing(
    start: Start, redis_server: RedisServer, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    sidecar = await start(redis_server.url, **ONE_PER_MINUTE)
    await post(sidecar)
    await post(sidecar)
    await sidecar.stop()
    refused = sidecar.audit_events()[-1]
    assert (refused["outcome"], refused["status"]) == ("rate_limited", 429)
    assert refused["limits"]["refused"] == "tenant:requests_per_minute"
    assert refused["limits"]["source"] == "redis"
    assert refused["attempts"] == []
    assert len(fakes[0].received) == 1
    sidecar.verify_audit()


async def test_an_anthropic_refusal_uses_the_anthropic_shape(
    start: Start, redis_server: RedisServer
) -> None:
    sidecar = await start(redis_server.url, **ONE_PER_MINUTE)
    await post(sidecar, "/v1/messages", MESSAGES)
    refused = await post(sidecar, "/v1/messages", MESSAGES)
    assert refused.status_code == 429
    document = refused.json()
    assert document["type"] == "error"
    assert document["error"]["type"] == "rate_limit_error"
    assert "retry-after" in refused.headers


async def test_refusals_are_counted_by_scope_and_limit(
    start: Start, redis_server: RedisServer
) -> None:
    sidecar = await start(redis_server.url, **ONE_PER_MINUTE)
    await post(sidecar)
    await post(sidecar)
    async with httpx.AsyncClient(base_url=sidecar.url) as http:
        metrics = (await http.get("/metrics")).text
    assert (
        'policy_engine_limit_refusals_total{limit="requests_per_minute",scope="tenant"} 1.0'
        in metrics
    )
    assert 'policy_engine_requests_total{outcome="rate_limited",protocol="openai"} 1.0' in metrics
    assert "policy_engine_redis_up 1.0" in metrics


async def spent(redis_server: RedisServer) -> bool:
    with redis.Redis(port=redis_server.port) as client:
        return any(client.scan_iter("pe:l:t:sandbox:cpd:*"))


async def test_a_tenant_over_its_budget_is_routed_to_self_hosted_providers_only(
    start: Start, redis_server: RedisServer, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    sidecar = await start(
        redis_server.url,
        tenants={"sandbox": {"cost_per_day_usd": 0.001}},
        budget_exhausted="policy",
    )
    first = await post(sidecar)
    assert first.headers["x-routed-provider"] == "paid-cloud"  # 18 tokens: $0.018 spent
    for _ in range(200):  # the spend is added after the answer; polling with a bound
        if await spent(redis_server):
            break
        await asyncio.sleep(0.01)
    second = await post(sidecar)
    assert second.status_code == 200
    assert second.headers["x-routed-provider"] == "onprem"
    await sidecar.stop()
    record = sidecar.audit_events()[-1]
    assert record["limits"]["exhausted"] == ["cost_per_day_usd"]
    assert record["policy"]["denied"]["paid-cloud"] == [
        "budget: cost_per_day_usd used up; only self-hosted providers remain"
    ]


async def test_with_redis_down_budgets_fail_closed_with_a_record(
    start: Start, own_redis: RedisServer, fakes: tuple[FakeProvider, FakeProvider]
) -> None:
    sidecar = await start(own_redis.url, tenants={"sandbox": {"cost_per_day_usd": 5}})
    own_redis.kill()
    refused = await post(sidecar)
    assert refused.status_code == 503
    assert "Redis is unreachable" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    await sidecar.stop()
    record = sidecar.audit_events()[-1]
    assert record["outcome"] == "limits_unavailable"
    assert record["limits"]["fallback"] == "redis_unavailable"
    assert fakes[0].received == [] and fakes[1].received == []


async def test_with_redis_down_rate_limits_are_checked_locally_and_recorded(
    start: Start, own_redis: RedisServer
) -> None:
    sidecar = await start(own_redis.url, tenants={"sandbox": {"requests_per_minute": 100}})
    own_redis.kill()
    answered = await post(sidecar)
    assert answered.status_code == 200
    await sidecar.stop()
    record = sidecar.audit_events()[-1]
    assert (record["limits"]["source"], record["limits"]["fallback"]) == (
        "local",
        "redis_unavailable",
    )
