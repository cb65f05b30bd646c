"""Three sidecar processes and one Redis, driven concurrently.

A provider outage seen by one replica is skipped by the others within a second, and
killing Redis mid-load leaves every request answered or refused, each with its record.

The bounds below (the test's timeout, the clients' and the polls' deadlines) are
liveness bounds for a loaded 2-core machine, where starting three sidecars alone takes
a minute; the one timed property, within a second, is read from the replicas' own logs.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from policy_engine.audit import iter_records
from tests.fakes import FakeProvider, Unavailable
from tests.reliability._process import SidecarProcess
from tests.servers import RedisServer
from tests.sidecar import API_KEY, ProviderSpec, build_settings

REPLICAS = 3
WORKERS = 12
CLIENT_TIMEOUT_S = 60.0
PROGRESS_TIMEOUT_S = 120.0
pytestmark = pytest.mark.timeout(900)
CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}


@dataclass(frozen=True)
class Sent:
    tenant: str
    after_kill: bool  # sent after Redis was killed (False: before, or in flight at it)
    status: int
    request_id: str
    body: dict[str, Any]


@dataclass
class Fleet:
    replicas: list[SidecarProcess]
    flaky: FakeProvider
    steady: FakeProvider


@pytest.fixture
async def fleet(tmp_path: Path, own_redis: RedisServer) -> AsyncIterator[Fleet]:
    async with (
        FakeProvider("openai", name="flaky") as flaky,
        FakeProvider("openai", name="steady") as steady,
    ):
        providers = [
            ProviderSpec("flaky", flaky, priority=10),
            ProviderSpec("steady", steady, attributes={"self_hosted": True}, priority=20),
        ]
        replicas = []
        for n in range(REPLICAS):
            settings = build_settings(
                tmp_path / f"r{n}",
                providers,
                routing={"attempts_per_provider": 1, "circuit_failure_threshold": 2},
                fleet={
                    "replica": f"r{n}",
                    "redis": {"url": own_redis.url, "timeout_ms": 200, "retry_s": 0.5},
                    "limits": {
                        "tenants": {"sandbox": {"requests_per_minute": 1_000_000}},
                        "tenant_default": {"cost_per_day_usd": 1000},
                    },
                },
            )
            workdir = tmp_path / f"r{n}"
            replicas.append(SidecarProcess(settings, workdir, {"TEST_PROVIDER_KEY": API_KEY}))
        try:
            await asyncio.gather(*(replica.start() for replica in replicas))
            yield Fleet(replicas, flaky, steady)
        finally:
            for replica in replicas:
                replica.stop()


async def post(http: httpx.AsyncClient, tenant: str = "sandbox") -> httpx.Response:
    return await http.post("/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": tenant})


async def circuit_state(http: httpx.AsyncClient, provider: str) -> float:
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith(f'policy_engine_circuit_state{{provider="{provider}"}}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def logged_at(replica: SidecarProcess, event: str, provider: str) -> list[datetime]:
    """When `replica` logged `event` for `provider`, by its own clock."""
    times = []
    for line in replica.log.read_text(errors="replace").splitlines():
        if line.startswith("{") and f'"event":"{event}"' in line:
            entry = json.loads(line)
            if entry.get("provider") == provider:
                times.append(datetime.fromisoformat(entry["timestamp"]))
    return times


async def test_an_outage_seen_by_one_replica_is_skipped_by_the_others_within_a_second(
    fleet: Fleet,
) -> None:
    fleet.flaky.always(Unavailable())
    clients = [httpx.AsyncClient(base_url=r.url, timeout=CLIENT_TIMEOUT_S) for r in fleet.replicas]
    try:
        for _ in range(2):  # two failures open replica 0's circuit; steady answers both
            assert (await post(clients[0])).headers["x-routed-provider"] == "steady"
        assert await circuit_state(clients[0], "flaky") == 2
        learned: set[int] = set()
        deadline = time.monotonic() + PROGRESS_TIMEOUT_S
        while len(learned) < REPLICAS - 1 and time.monotonic() < deadline:
            for n in range(1, REPLICAS):
                if n not in learned and await circuit_state(clients[n], "flaky") == 2:
                    learned.add(n)
            await asyncio.sleep(0.05)  # polling a condition with a bound, not a guess
        sent_to_flaky = len(fleet.flaky.received)
        for client in clients[1:]:
            answer = await post(client)
            assert answer.headers["x-routed-provider"] == "steady"
    finally:
        for client in clients:
            await client.aclose()
    assert learned == {1, 2}
    assert len(fleet.flaky.received) == sent_to_flaky, "another replica still tried flaky"
    # From the failure that opened it on replica 0 to the others applying it, as each
    # logged it (all on this machine's clock).
    opened = logged_at(fleet.replicas[0], "attempt_failed", "flaky")[-1]
    delays = [
        (logged_at(replica, "circuit_opened_by_fleet", "flaky")[0] - opened).total_seconds()
        for replica in fleet.replicas[1:]
    ]
    assert max(delays) < 1.0, delays


async def test_killing_redis_mid_load_answers_or_refuses_every_request_with_a_record(
    fleet: Fleet, own_redis: RedisServer
) -> None:
    results: list[Sent] = []
    killed = asyncio.Event()
    stop = asyncio.Event()

    async def worker(n: int) -> None:
        replica = fleet.replicas[n % REPLICAS]
        tenant = "sandbox" if n % 2 else "paystream"  # rate limit only / a cost budget
        async with httpx.AsyncClient(base_url=replica.url, timeout=CLIENT_TIMEOUT_S) as http:
            while not stop.is_set():
                after_kill = killed.is_set()  # sent once Redis was dead, or maybe before
                answer = await post(http, tenant)
                request_id = answer.headers["x-request-id"]
                results.append(
                    Sent(tenant, after_kill, answer.status_code, request_id, answer.json())
                )

    async def until(count: int, after_kill: bool) -> None:
        deadline = time.monotonic() + PROGRESS_TIMEOUT_S
        while (done := sum(1 for r in results if r.after_kill == after_kill)) < count:
            assert time.monotonic() < deadline, f"only {done} of {count} requests"
            await asyncio.sleep(0.01)  # polling a condition with a bound, not a guess

    workers = [asyncio.create_task(worker(n)) for n in range(WORKERS)]
    await until(100, after_kill=False)
    own_redis.kill()  # returns once the process is gone: its port refuses from now on
    killed.set()
    await until(200, after_kill=True)
    stop.set()
    await asyncio.gather(*workers)
    for replica in fleet.replicas:
        replica.stop()

    records: dict[str, dict[str, Any]] = {}
    for replica in fleet.replicas:
        verified = replica.verify()
        assert verified.returncode == 0, verified.stdout + verified.stderr
        for _, record in iter_records(replica.settings.audit.dir):
            if record.kind == "request":
                records[record.event["request_id"]] = record.event
    expected = {200: "answered", 503: "limits_unavailable"}
    for sent in results:
        assert sent.status in expected, (sent.status, sent.body)
        assert records[sent.request_id]["outcome"] == expected[sent.status]
    # A request sent before the kill may have been admitted by Redis; every one sent
    # after it took the documented fallback.
    for sent in results:
        if sent.after_kill:
            limits = records[sent.request_id]["limits"]
            assert limits["fallback"] == "redis_unavailable", (sent, limits)
            if sent.tenant == "sandbox":  # rate limits fall back to local checks
                assert (sent.status, limits["source"]) == (200, "local")
            else:  # budgets fail closed
                assert (sent.status, limits["refused"]) == (503, "budgets:unavailable")
