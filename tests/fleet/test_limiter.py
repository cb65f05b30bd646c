"""Limits shared through a real Redis: atomic across replicas, settled by what was used."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from adapters import Usage
from policy_engine._errors import LimitExceeded
from policy_engine.fleet import (
    Admission,
    FleetMetrics,
    Limiter,
    LimitsSettings,
    RedisLimits,
    RedisSettings,
    SharedState,
    budget_window,
)
from tests.servers import RedisServer

PRICES = {"paid": (1000.0, 1000.0)}  # USD per 1M tokens: 1 token costs $0.001
# Generous: these tests are about what is counted, and the machine may be loaded.
TIMEOUT_MS = 2000


def limits(**values: Any) -> LimitsSettings:
    return LimitsSettings.model_validate(values)


Replica = Callable[..., Limiter]


@pytest.fixture
async def replica(redis_server: RedisServer) -> AsyncIterator[Replica]:
    """Builds limiters that share one Redis, as replicas of one fleet do."""
    states: list[SharedState] = []

    def build(settings: LimitsSettings, **redis_values: Any) -> Limiter:
        values = {"timeout_ms": TIMEOUT_MS, **redis_values}
        state = SharedState(RedisSettings(url=redis_server.url, **values), None)
        states.append(state)
        metrics = FleetMetrics(CollectorRegistry())
        return Limiter(settings, RedisLimits(state), PRICES, metrics)

    yield build
    for state in states:
        await state.close()


async def admit(
    limiter: Limiter, tenant: str = "acme", caller: str | None = None, **kw: Any
) -> Admission:
    admission = await limiter.admit(tenant, caller, kw.get("chars", 0), kw.get("max_tokens", 10))
    assert admission is not None
    return admission


async def settle_now(
    limiter: Limiter, admission: Admission, tokens: int, provider: str = "paid"
) -> None:
    limiter.settle(admission, provider, Usage(tokens, 0))
    await limiter.close()


async def test_no_admission_for_a_tenant_without_limits(replica: Replica) -> None:
    limiter = replica(limits(tenants={"other": {"requests_per_minute": 1}}))
    assert await limiter.admit("acme", None, 0, 10) is None


async def test_requests_past_the_per_minute_limit_are_refused_with_a_retry_time(
    replica: Replica,
) -> None:
    limiter = replica(limits(tenants={"acme": {"requests_per_minute": 3}}))
    admitted = [await admit(limiter) for _ in range(3)]
    refused = await admit(limiter)
    assert [a.refused for a in admitted] == [None, None, None]
    assert refused.refused == "tenant:requests_per_minute"
    assert isinstance(refused.error, LimitExceeded)
    assert refused.error.status == 429
    assert 0 < refused.error.retry_after_s <= 60
    assert "tenant 'acme' requests_per_minute (3)" in refused.error.message


async def test_replicas_share_one_limit(replica: Replica) -> None:
    settings = limits(tenants={"acme": {"requests_per_minute": 5}})
    replicas = [replica(settings) for _ in range(3)]
    results = [await admit(replicas[n % 3]) for n in range(9)]
    assert sum(r.refused is None for r in results) == 5


async def test_concurrent_admissions_across_replicas_never_pass_the_limit(
    replica: Replica,
) -> None:
    settings = limits(tenants={"acme": {"requests_per_minute": 40}})
    replicas = [replica(settings) for _ in range(3)]
    results = await asyncio.gather(*(admit(replicas[n % 3]) for n in range(150)))
    assert sum(r.refused is None for r in results) == 40


async def test_a_burst_beyond_the_connection_pool_waits_for_redis_not_the_fallback(
    replica: Replica,
) -> None:
    limiter = replica(limits(tenants={"acme": {"tokens_per_minute": 60_000}}), max_connections=4)
    results = await asyncio.gather(*(admit(limiter, chars=420, max_tokens=200) for _ in range(300)))
    assert {r.source for r in results} == {"redis"}
    assert sum(r.refused is None for r in results) == 60_000 // 305


async def test_a_refused_request_takes_nothing_from_the_other_limits(
    replica: Replica, redis_server: RedisServer
) -> None:
    limiter = replica(
        limits(
            tenants={"acme": {"requests_per_minute": 100}},
            callers={"svc": {"requests_per_minute": 1}},
        )
    )
    await admit(limiter, caller="svc")
    with redis.Redis(port=redis_server.port) as client:
        before = client.get("pe:l:t:acme:rpm")
        refused = await admit(limiter, caller="svc")
        after = client.get("pe:l:t:acme:rpm")
    assert refused.refused == "caller:requests_per_minute"
    assert before == after


async def test_tokens_are_reserved_at_admission_and_corrected_by_what_was_used(
    replica: Replica,
) -> None:
    limiter = replica(limits(tenants={"acme": {"tokens_per_minute": 1000}}))
    # 400 characters ~ 100 tokens, plus max_tokens 200: 300 reserved each.
    first = [await admit(limiter, chars=400, max_tokens=200) for _ in range(3)]
    assert [a.reserved_tokens for a in first] == [300, 300, 300]
    assert (await admit(limiter, chars=400, max_tokens=200)).refused == "tenant:tokens_per_minute"
    for admission in first:
        await settle_now(limiter, admission, tokens=50)  # 250 of each reservation come back
    assert (await admit(limiter, chars=400, max_tokens=200)).refused is None
    assert (await admit(limiter, chars=400, max_tokens=200)).refused is None


async def test_output_tokens_are_estimated_when_max_tokens_is_unset(replica: Replica) -> None:
    limiter = replica(
        limits(tenants={"acme": {"tokens_per_minute": 1000}}, output_tokens_estimate=64)
    )
    admission = await limiter.admit("acme", None, 8, None)
    assert admission is not None and admission.reserved_tokens == 2 + 64


async def test_a_request_larger_than_the_whole_token_limit_is_told_to_lower_max_tokens(
    replica: Replica,
) -> None:
    limiter = replica(limits(tenants={"acme": {"tokens_per_minute": 100}}))
    refused = await admit(limiter, max_tokens=500)
    assert refused.error is not None
    assert "estimated 500 tokens exceed" in refused.error.message
    assert "lower max_tokens" in refused.error.message


async def test_a_used_up_budget_refuses_until_the_day_ends(replica: Replica) -> None:
    limiter = replica(limits(tenants={"acme": {"cost_per_day_usd": 0.05}}))
    first = await admit(limiter)
    await settle_now(limiter, first, tokens=60)  # $0.06
    refused = await admit(limiter)
    assert refused.refused == "tenant:cost_per_day_usd"
    assert refused.error is not None
    seconds_left = budget_window("cost_per_day_usd", datetime.now(UTC))[2]
    assert 0 < refused.error.retry_after_s <= seconds_left + 1


async def test_a_budget_left_to_the_policy_is_reported_as_exhausted(replica: Replica) -> None:
    limiter = replica(
        limits(tenants={"acme": {"cost_per_month_usd": 0.01}}, budget_exhausted="policy")
    )
    await settle_now(limiter, await admit(limiter), tokens=20)
    admission = await admit(limiter)
    assert admission.refused is None
    assert admission.view.exhausted == ("cost_per_month_usd",)


async def test_requests_to_unpriced_providers_spend_nothing(replica: Replica) -> None:
    limiter = replica(limits(tenants={"acme": {"cost_per_day_usd": 0.01}}))
    first = await admit(limiter)
    limiter.settle(first, "self-hosted", Usage(10_000, 10_000))
    await limiter.close()
    assert (await admit(limiter)).refused is None


async def test_the_policy_sees_remaining_shares_in_tenths_when_asked(replica: Replica) -> None:
    limiter = replica(
        limits(tenants={"acme": {"requests_per_minute": 10}}, policy_input="remaining")
    )
    views = [(await admit(limiter)).view for _ in range(3)]
    assert [dict(v.remaining) for v in views] == [
        {"requests_per_minute": 0.9},
        {"requests_per_minute": 0.8},
        {"requests_per_minute": 0.7},
    ]


async def test_each_tenant_without_an_entry_gets_the_default_limits_of_its_own(
    replica: Replica,
) -> None:
    limiter = replica(limits(tenant_default={"requests_per_minute": 1}))
    assert (await admit(limiter, tenant="a")).refused is None
    assert (await admit(limiter, tenant="b")).refused is None
    assert (await admit(limiter, tenant="a")).refused == "tenant:requests_per_minute"


async def test_a_redis_restart_that_lost_the_scripts_is_survived(
    own_redis: RedisServer,
) -> None:
    state = SharedState(RedisSettings(url=own_redis.url, timeout_ms=TIMEOUT_MS), None)
    limiter = Limiter(
        limits(tenants={"acme": {"requests_per_minute": 100}}),
        RedisLimits(state),
        PRICES,
        FleetMetrics(CollectorRegistry()),
    )
    try:
        assert (await admit(limiter)).source == "redis"
        with redis.Redis(port=own_redis.port) as client:
            client.script_flush()
        assert (await admit(limiter)).source == "redis"
    finally:
        await state.close()
