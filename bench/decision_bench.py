"""Decision latency: embedded regopy against a real OPA server, and two HTTP clients for OPA.

Run: `.venv/bin/python bench/decision_bench.py [--seconds-per-case 3]`. Starts its own
OPA (tools/bin/opa) on a free loopback port, loaded with exactly the modules and
data the embedded engine reads, and prints a markdown table. Each case is bounded by
a time budget and an iteration cap, so the whole run takes about 20 seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from opa_client import AsyncOpaClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the OPA launcher is in tests/

from policy_engine._config import load_config
from policy_engine._context import RoutingContext, policy_input, provider_catalog
from policy_engine.decision import Decider, EmbeddedEngine, OpaEngine
from tests.decision._support import running_opa

ROOT = Path(__file__).resolve().parents[1]
POLICY_DIR = ROOT / "policies"
DEMO_CONFIG = ROOT / "deploy" / "demo" / "policy-engine.yaml"
ENTRYPOINT = "router/decision"
WARMUP = 200
MAX_ITERATIONS = 20_000
CONCURRENCY = 8
TIMEOUT_MS = 2000

Call = Callable[[RoutingContext], Awaitable[Any]]

CONTEXTS = [
    RoutingContext(tenant, residency, tags, "default", False, 1200, "openai")
    for tenant, residency, tags in [
        ("acme-eu", None, ()),
        ("medibridge-us", None, ("phi",)),
        ("paystream", "eu", ()),
        ("globex", None, ("pii",)),
        ("sandbox", "us", ("confidential",)),
        ("initech", None, ()),
    ]
]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    samples_ns: list[int]
    wall_s: float
    concurrency: int

    def row(self) -> str:
        ms = [s / 1e6 for s in self.samples_ns]
        cuts = statistics.quantiles(ms, n=100)
        ops = len(ms) / self.wall_s
        return (
            f"| {self.name} | {self.concurrency} | {len(ms)} | {cuts[49]:.3f} | "
            f"{cuts[98]:.3f} | {statistics.fmean(ms):.3f} | {ops:,.0f} |"
        )


async def measure(name: str, call: Call, budget_s: float, concurrency: int = 1) -> Result:
    contexts = itertools.cycle(CONTEXTS)
    for _ in range(WARMUP):
        await call(next(contexts))
    samples: list[int] = []
    deadline = time.perf_counter() + budget_s
    per_worker = MAX_ITERATIONS // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            if time.perf_counter() >= deadline:
                return
            started = time.perf_counter_ns()
            await call(next(contexts))
            samples.append(time.perf_counter_ns() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Result(name, samples, time.perf_counter() - began, concurrency)


async def run(budget_s: float) -> list[Result]:
    catalog = provider_catalog(load_config(DEMO_CONFIG))
    embedded = Decider(EmbeddedEngine(POLICY_DIR, ENTRYPOINT), catalog, TIMEOUT_MS)
    cached = Decider(EmbeddedEngine(POLICY_DIR, ENTRYPOINT), catalog, TIMEOUT_MS, cache_size=64)
    results = [
        await measure("embedded regopy, Decider.decide", embedded.decide, budget_s),
        await measure("embedded regopy, Decider.decide, cache hits", cached.decide, budget_s),
    ]
    with running_opa() as opa:
        url, port = opa.url, int(opa.url.rsplit(":", 1)[1])
        engine = OpaEngine(url, ENTRYPOINT, TIMEOUT_MS)
        rest = Decider(engine, catalog, TIMEOUT_MS)

        async def raw_aiohttp(context: RoutingContext) -> Any:
            return await engine.evaluate(policy_input(context, catalog))

        async with AsyncOpaClient(host="127.0.0.1", port=port, timeout=TIMEOUT_MS / 1000) as client:

            async def raw_opa_client(context: RoutingContext) -> Any:
                answer = await client.query_rule(
                    policy_input(context, catalog), "router", "decision"
                )
                return answer["result"]

            try:
                results.append(await measure("OPA REST, Decider.decide", rest.decide, budget_s))
                for concurrency in (1, CONCURRENCY):
                    results.append(
                        await measure(
                            "OPA REST raw, aiohttp (OpaEngine)", raw_aiohttp, budget_s, concurrency
                        )
                    )
                    results.append(
                        await measure(
                            "OPA REST raw, opa-python-client query_rule",
                            raw_opa_client,
                            budget_s,
                            concurrency,
                        )
                    )
            finally:
                await engine.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds-per-case", type=float, default=2.5)
    budget = parser.parse_args().seconds_per_case
    # uvloop, as under uvicorn in the sidecar: the event loop is part of the hot path.
    results = uvloop.run(run(budget))
    print(
        f"Decision latency (python {sys.version.split()[0]}, {len(CONTEXTS)} contexts cycled, ms)\n"
    )
    print("| case | in flight | n | p50 | p99 | mean | ops/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())


if __name__ == "__main__":
    main()
