"""A per-tenant token budget held by three sidecar processes sharing one Redis.

64 clients, spread over the three replicas, send chat requests for one tenant as
fast as they are answered; the tenant has `tokens_per_minute` T. A GCRA bucket that
starts full lets through T tokens at once plus T/60 per second, so over D seconds at
most T * (1 + D / 60) tokens may be used. The overshoot is what was used beyond that
(the tokens in the answers' `usage`), in two cases:

- honest: max_tokens covers the answer, so the reservation at admission is never
  below what is used;
- under-declared: no max_tokens and answers longer than the default estimate
  (limits.output_tokens_estimate), so requests in flight use more than they reserved.

    .venv/bin/python -m bench.fleet_bench --duration 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from policy_engine.fleet import (
    FleetMetrics,
    Limiter,
    LimitsSettings,
    RedisLimits,
    RedisSettings,
    SharedState,
)
from tests.fakes import FakeProvider, Ok
from tests.reliability._process import SidecarProcess
from tests.servers import RedisServer
from tests.sidecar import API_KEY, ProviderSpec, build_settings

REPLICAS = 3
PROMPT = "Summarise the attached quarterly report in three sentences. " * 7  # ~420 chars


@dataclass
class Outcome:
    case: str
    answered: int
    refused: int
    used: int
    allowed: float
    seconds: float

    @property
    def overshoot(self) -> float:
        return self.used - self.allowed


async def drive(
    replicas: list[SidecarProcess], clients: int, seconds: float, body: dict[str, Any]
) -> tuple[int, int, int, float]:
    answered = refused = used = 0
    stop = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal answered, refused, used
        url = replicas[n % len(replicas)].url
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.monotonic() < stop:
                response = await http.post(
                    "/v1/chat/completions", json=body, headers={"X-Tenant-ID": "sandbox"}
                )
                if response.status_code == 200:
                    answered += 1
                    used += response.json()["usage"]["total_tokens"]
                elif response.status_code == 429:
                    refused += 1
                    await asyncio.sleep(0.01)  # as a client honouring 429 would, briefly
                else:
                    raise RuntimeError(f"unexpected {response.status_code}: {response.text}")

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return answered, refused, used, time.monotonic() - started


async def run_case(
    work: Path, case: str, tokens_per_minute: int, clients: int, seconds: float
) -> Outcome:
    output = 200 if case == "honest" else 400
    body: dict[str, Any] = {"model": "default", "messages": [{"role": "user", "content": PROMPT}]}
    if case == "honest":
        body["max_tokens"] = output
    redis = RedisServer(work / case / "redis")
    redis.start()
    async with FakeProvider("openai", name="upstream") as fake:
        fake.always(Ok(usage=(105, output)))
        limits = {"tenants": {"sandbox": {"tokens_per_minute": tokens_per_minute}}}
        replicas = []
        for n in range(REPLICAS):
            settings = build_settings(
                work / case / f"r{n}",
                [ProviderSpec("upstream", fake)],
                fleet={"replica": f"r{n}", "redis": {"url": redis.url}, "limits": limits},
                audit={"checkpoint_every_records": 10_000},
            )
            replicas.append(
                SidecarProcess(settings, work / case / f"r{n}", {"TEST_PROVIDER_KEY": API_KEY})
            )
        try:
            await asyncio.gather(*(replica.start() for replica in replicas))
            answered, refused, used, elapsed = await drive(replicas, clients, seconds, body)
        finally:
            for replica in replicas:
                replica.stop()
            redis.stop()
    allowed = tokens_per_minute * (1 + elapsed / 60)
    return Outcome(case, answered, refused, used, allowed, elapsed)


async def timed(limiter: Limiter, latencies: list[float]) -> None:
    started = time.perf_counter()
    await limiter.admit("sandbox", None, 420, 200)
    latencies.append(time.perf_counter() - started)


async def admission_cost(work: Path, count: int = 3000) -> list[tuple[str, float, float]]:
    """p50 latency and this process's CPU per admission (one Lua script call), in µs:
    one caller at a time, and 64 at once."""
    redis = RedisServer(work / "admission" / "redis")
    redis.start()
    state = SharedState(RedisSettings(url=redis.url), None)
    limits = LimitsSettings.model_validate(
        {"tenants": {"sandbox": {"requests_per_minute": 10**9, "tokens_per_minute": 10**12}}}
    )
    limiter = Limiter(limits, RedisLimits(state), {}, FleetMetrics(CollectorRegistry()))
    rows = []
    try:
        for concurrency in (1, 64):
            latencies: list[float] = []

            await timed(limiter, [])  # connect and load the script first
            cpu = time.process_time()
            for _ in range(count // concurrency):
                await asyncio.gather(*(timed(limiter, latencies) for _ in range(concurrency)))
            cpu = time.process_time() - cpu
            rows.append(
                (f"c={concurrency}", statistics.median(latencies) * 1e6, cpu / len(latencies) * 1e6)
            )
    finally:
        await state.close()
        redis.stop()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--tokens-per-minute", type=int, default=60_000)
    parser.add_argument("--work", type=Path, help="keep the logs and audit logs here")
    parser.add_argument("--cases", default="honest,under-declared")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as scratch:
        work = args.work or Path(scratch)
        outcomes = [
            await run_case(work, case, args.tokens_per_minute, args.clients, args.duration)
            for case in args.cases.split(",")
        ]
        costs = await admission_cost(work)
    print(
        f"3 sidecar processes, 1 Redis, {args.clients} clients, "
        f"tokens_per_minute {args.tokens_per_minute}, {args.duration:.0f} s per case"
    )
    print("| case | answered | refused (429) | tokens used | allowed | overshoot |")
    print("|---|---:|---:|---:|---:|---:|")
    for o in outcomes:
        share = 100 * o.overshoot / o.allowed
        print(
            f"| {o.case} | {o.answered:,} | {o.refused:,} | {o.used:,} | {o.allowed:,.0f} "
            f"| {o.overshoot:+,.0f} ({share:+.1f}%) |"
        )
    print("\nOne admission (a Lua script over requests and tokens per minute), in this process:")
    print("| callers | p50 latency | CPU per admission |")
    print("|---|---:|---:|")
    for label, p50, cpu in costs:
        print(f"| {label} | {p50:,.0f} µs | {cpu:,.0f} µs |")


if __name__ == "__main__":
    asyncio.run(main())
