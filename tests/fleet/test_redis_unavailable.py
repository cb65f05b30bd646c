"""Redis killed or hung: each feature takes its configured fallback, never a hang.

The defaults: rate limits fall back to local checks, budgets fail closed. The bound in
`wait_for` below is a liveness bound (forty times the configured Redis timeout), not a
speed measurement: without the timeout a hung Redis would hold the request forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from adapters import Usage
from policy_engine._errors import LimitsUnavailable
from policy_engine.fleet import (
    Admission,
    FleetMetrics,
    Limiter,
    LimitsSettings,
    RedisLimits,
    RedisSettings,
    SharedState,
)
from tests.servers import RedisServer

LIVENESS_BOUND_S = 2.0
TIMEOUT_MS = 50


@pytest.fixture
async def build(own_redis: RedisServer) -> AsyncIterator[Callable[..., Limiter]]:
    states: list[SharedState] = []

    def limiter(retry_s: float = 60, metrics: FleetMetrics | None = None, **values: Any) -> Limiter:
        state = SharedState(
            RedisSettings(url=own_redis.url, timeout_ms=TIMEOUT_MS, retry_s=retry_s), None
        )
        states.append(state)
        return Limiter(
            LimitsSettings.model_validate(values),
            RedisLimits(state),
            {"paid": (1.0, 1.0)},
            metrics or FleetMetrics(CollectorRegistry()),
        )

    yield limiter
    for state in states:
        await state.close()


async def admit(limiter: Limiter, tenant: str = "acme") -> Admission:
    admission = await asyncio.wait_for(limiter.admit(tenant, None, 0, 10), LIVENESS_BOUND_S)
    assert admission is not None
    return admission


RATE = {"tenants": {"acme": {"requests_per_minute": 2}}}
BUDGET = {"tenants": {"acme": {"cost_per_day_usd": 10}}}


async def test_rate_limits_fall_back_to_local_checks_by_default(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    limiter = build(**RATE)
    own_redis.kill()
    results = [await admit(limiter) for _ in range(3)]
    assert [r.source for r in results] == ["local"] * 3
    assert [r.fallback for r in results] == ["redis_unavailable"] * 3
    assert [r.refused for r in results] == [None, None, "tenant:requests_per_minute"]


async def test_budgets_fail_closed_by_default(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    limiter = build(retry_s=3, **BUDGET)
    own_redis.kill()
    refused = await admit(limiter)
    assert refused.fallback == "redis_unavailable"
    assert refused.refused == "budgets:unavailable"
    assert isinstance(refused.error, LimitsUnavailable)
    assert refused.error.status == 503
    assert refused.error.retry_after_s == 3


async def test_rate_limits_can_be_set_to_fail_closed(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    limiter = build(**RATE, on_redis_unavailable={"rate_limits": "fail_closed"})
    own_redis.kill()
    assert isinstance((await admit(limiter)).error, LimitsUnavailable)


async def test_budgets_can_be_counted_locally_or_let_through(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    local = build(**BUDGET, on_redis_unavailable={"budgets": "local"})
    unchecked = build(**BUDGET, on_redis_unavailable={"budgets": "allow"})
    own_redis.kill()
    assert (await admit(local)).source == "local"
    allowed = await admit(unchecked)
    assert (allowed.source, allowed.refused, allowed.fallback) == (
        "unchecked",
        None,
        "redis_unavailable",
    )


async def test_a_hung_redis_costs_one_timeout_then_none(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    limiter = build(**RATE)
    assert (await admit(limiter)).source == "redis"  # connected before the hang
    own_redis.pause()
    try:
        first = await admit(limiter)  # waits for the timeout, then falls back
        second = await admit(limiter)  # Redis is known down: no socket, no wait
    finally:
        own_redis.resume()
    assert (first.source, second.source) == ("local", "local")


async def test_shared_limits_resume_once_redis_is_back(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    limiter = build(retry_s=0.05, **RATE)
    own_redis.kill()
    assert (await admit(limiter)).source == "local"
    own_redis.start()
    for _ in range(100):  # until retry_s has passed: polling a condition with a bound
        admission = await limiter.admit("acme", None, 0, 10)
        assert admission is not None
        if admission.source == "redis":
            break
        await asyncio.sleep(0.02)
    assert admission.source == "redis"


async def test_usage_that_cannot_be_settled_is_counted(
    build: Callable[..., Limiter], own_redis: RedisServer
) -> None:
    registry = CollectorRegistry()
    limiter = build(metrics=FleetMetrics(registry), tenants={"acme": {"tokens_per_minute": 1000}})
    admission = await admit(limiter)
    own_redis.kill()
    limiter.settle(admission, "paid", Usage(500, 0))
    await asyncio.wait_for(limiter.close(), LIVENESS_BOUND_S)
    assert registry.get_sample_value("policy_engine_limits_unsettled_total") == 1
