"""Provider circuits shared through a real Redis: one replica's open is every replica's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from policy_engine.fleet import (
    CircuitSync,
    FleetMetrics,
    RedisSettings,
    SharedState,
    SharedStateUnavailable,
)
from policy_engine.routing import CircuitBreaker, CircuitState
from tests.servers import RedisServer

PROVIDERS = ("flaky", "steady")
OPEN_S = 30.0


class Clock:
    """The breakers' clock, moved by the test; Redis keeps real time for the key's expiry."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Replica:
    def __init__(
        self,
        state: SharedState,
        sync: CircuitSync,
        breakers: dict[str, CircuitBreaker],
        clock: Clock,
        registry: CollectorRegistry,
    ):
        self.state = state
        self.sync = sync
        self.breakers = breakers
        self.clock = clock
        self.registry = registry

    def learned(self, provider: str = "flaky") -> float:
        value = self.registry.get_sample_value(
            "policy_engine_shared_circuit_opens_total", {"provider": provider}
        )
        return value or 0.0

    async def fail_until_open(self, provider: str = "flaky") -> None:
        breaker = self.breakers[provider]
        breaker.record_failure()
        breaker.record_failure()
        await self.sync.flush()

    async def read_until_redis_answers(self) -> None:
        """Sync reads until one reaches Redis (after a restart, the first finds the old
        connection dead, and Redis is skipped for `retry_s`)."""
        deadline = time.monotonic() + 30
        while True:
            await self.sync.read_once()
            if self.state.up:
                return
            assert time.monotonic() < deadline, "Redis did not answer again"
            await asyncio.sleep(0.01)  # polling a condition with a bound, not a guess


Build = Callable[..., Replica]


@pytest.fixture
async def replica(redis_server: RedisServer) -> AsyncIterator[Build]:
    made: list[tuple[SharedState, CircuitSync]] = []

    def build(
        name: str, url: str = redis_server.url, state_on_clock: bool = False, **redis_values: Any
    ) -> Replica:
        """`state_on_clock`: Redis's down time (`retry_s`) passes on the test's clock too."""
        values = {"timeout_ms": 2000, **redis_values}
        clock = Clock()
        state_clock = clock if state_on_clock else time.monotonic
        state = SharedState(RedisSettings(url=url, **values), None, state_clock)
        breakers = {p: CircuitBreaker(threshold=2, open_s=OPEN_S, clock=clock) for p in PROVIDERS}
        registry = CollectorRegistry()
        sync = CircuitSync(state, breakers, name, 0.1, FleetMetrics(registry))
        made.append((state, sync))
        return Replica(state, sync, breakers, clock, registry)

    yield build
    for state, sync in made:
        await sync.close()
        await state.close()


async def test_a_circuit_opened_by_one_replica_opens_on_the_others(replica: Build) -> None:
    a, b = replica("a"), replica("b")
    await a.fail_until_open()
    await b.sync.read_once()
    assert b.breakers["flaky"].state is CircuitState.OPEN
    assert not b.breakers["flaky"].available()
    assert b.breakers["steady"].state is CircuitState.CLOSED


async def test_a_shared_open_is_learned_once_however_often_it_is_read(replica: Build) -> None:
    a, b = replica("a"), replica("b")
    await a.fail_until_open()
    for _ in range(3):
        b.clock.now += 0.05  # the reads come a little later each time
        await b.sync.read_once()
    assert b.learned() == 1


async def test_the_replica_that_opened_a_circuit_does_not_learn_it_back(replica: Build) -> None:
    a = replica("a")
    await a.fail_until_open()
    for _ in range(3):
        a.clock.now += 0.05  # its key was written after it opened, and read later still
        await a.sync.read_once()
    assert a.learned() == 0


async def test_the_shared_key_names_the_replica_that_opened_it(
    replica: Build, redis_server: RedisServer
) -> None:
    a, b = replica("a"), replica("b")
    await a.fail_until_open()
    await b.sync.read_once()
    await b.sync.flush()
    with redis.Redis(port=redis_server.port) as client:
        assert client.get("pe:c:flaky") == b"a"  # b did not write back what it learned
        assert 0 < client.pttl("pe:c:flaky") <= OPEN_S * 1000


async def test_a_successful_probe_closes_the_circuit_on_the_others(replica: Build) -> None:
    a, b = replica("a"), replica("b")
    await a.fail_until_open()
    await b.sync.read_once()
    a.clock.now += OPEN_S  # a's open time is up: one probe, which succeeds
    assert a.breakers["flaky"].acquire()
    a.breakers["flaky"].record_success()
    await a.sync.flush()
    await b.sync.read_once()
    assert b.breakers["flaky"].state is CircuitState.CLOSED


async def test_an_open_learned_from_the_fleet_ends_in_one_probe(replica: Build) -> None:
    a, b = replica("a"), replica("b")
    await a.fail_until_open()
    await b.sync.read_once()
    b.clock.now += OPEN_S
    assert b.breakers["flaky"].state is CircuitState.HALF_OPEN
    assert b.breakers["flaky"].acquire()
    assert not b.breakers["flaky"].acquire()


async def test_a_failed_probe_opens_the_circuit_again_for_the_fleet(
    replica: Build, redis_server: RedisServer
) -> None:
    a, b = replica("a"), replica("b")
    await a.fail_until_open()
    await b.sync.read_once()
    with redis.Redis(port=redis_server.port) as client:
        client.delete("pe:c:flaky")  # as if the shared open had expired
    b.clock.now += OPEN_S
    assert b.breakers["flaky"].acquire()
    b.breakers["flaky"].record_failure()
    await b.sync.flush()
    with redis.Redis(port=redis_server.port) as client:
        assert client.get("pe:c:flaky") == b"b"


async def test_breakers_work_alone_while_redis_is_down(
    replica: Build, own_redis: RedisServer
) -> None:
    a = replica("a", url=own_redis.url)
    own_redis.kill()
    await a.fail_until_open()
    await a.sync.read_once()
    assert a.breakers["flaky"].state is CircuitState.OPEN
    assert a.breakers["steady"].state is CircuitState.CLOSED


async def test_an_open_written_while_redis_was_down_is_shared_once_it_is_back(
    replica: Build, own_redis: RedisServer
) -> None:
    a = replica("a", url=own_redis.url, retry_s=0.01)
    b = replica("b", url=own_redis.url, retry_s=0.01)
    own_redis.kill()
    await a.fail_until_open()  # its write fails
    own_redis.start()
    await a.read_until_redis_answers()
    await a.sync.flush()
    await b.sync.read_once()
    assert b.breakers["flaky"].state is CircuitState.OPEN


async def test_a_replica_keeps_its_own_open_that_redis_missed(
    replica: Build, own_redis: RedisServer
) -> None:
    a = replica("a", url=own_redis.url, retry_s=0.01)
    own_redis.kill()
    await a.fail_until_open()
    own_redis.start()
    await a.read_until_redis_answers()  # it finds no key: Redis missed the open
    assert a.breakers["flaky"].state is CircuitState.OPEN


async def test_a_close_written_while_redis_was_down_is_shared_once_it_is_back(
    replica: Build,
) -> None:
    a = replica("a", state_on_clock=True, retry_s=1)
    b = replica("b")
    await a.fail_until_open()
    await b.sync.read_once()
    a.clock.now += OPEN_S  # a's probe succeeds, while Redis is down for a:
    assert a.breakers["flaky"].acquire()
    with contextlib.suppress(SharedStateUnavailable):  # an error reply marks it down
        await a.state.call(lambda client: client.hget("pe:c:flaky", "x"))  # WRONGTYPE
    a.breakers["flaky"].record_success()
    await a.sync.flush()  # its delete is not sent
    a.clock.now += 1  # retry_s later
    await a.read_until_redis_answers()
    await a.sync.flush()
    await b.sync.read_once()
    assert b.breakers["flaky"].state is CircuitState.CLOSED


async def test_a_read_sent_before_an_open_was_written_does_not_undo_it(replica: Build) -> None:
    a = replica("a")
    await a.sync.read_once()  # connected
    reading = asyncio.create_task(a.sync.read_once())
    await asyncio.sleep(0)  # the read has left: Redis holds no key yet
    await a.fail_until_open()
    await reading
    assert a.breakers["flaky"].state is CircuitState.OPEN
