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
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

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


if __name__ == "__main__":
    asyncio.run(main())
