"""/healthz latency of a served sidecar while large adversarial bodies are redacted.

Issue 20's target: /healthz p99 < 50 ms while 4 MB adversarial bodies are processed at
concurrency 4. The sidecar runs as its own process (`policy-engine serve`, uvloop,
compiled modules); a separate probe process asks /healthz every few milliseconds,
first with the sidecar idle, then under the load, so neither the load generator nor
the fake provider's work shows in the latencies.

    .venv/bin/python -m bench.redaction_isolation --seconds 60 --body-mb 4 --concurrency 4
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import logging
import multiprocessing
import os
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path

import httpx
import orjson

from tests.fakes import FakeProvider
from tests.reliability._process import SidecarProcess
from tests.sidecar import API_KEY, ProviderSpec, build_settings


def _repeat(unit: str, size: int) -> str:
    return unit * (size // len(unit) + 1)


# Shapes the detector is slowest on: digit runs, separators, near-matches, long tokens.
BODIES: dict[str, Callable[[int], str]] = {
    "digit pairs": lambda size: _repeat("1 ", size),
    "number table": lambda size: _repeat("4111 1111 1111 1112 | 030 1234567 | 123-45-678\n", size),
    "separators": lambda size: _repeat("1-2.3/4 (5) 6.7.8.9 ", size),
    "near-miss addresses": lambda size: _repeat("jane.roe@example x@y. a@b.c@ ", size),
    "long token": lambda size: "A" * size,
}


def body(kind: str, size: int, n: int = 0) -> bytes:
    """A chat request of about `size` bytes whose one message is that shape; `n` makes
    it a text no earlier request sent (else the detection cache finds its spans)."""
    text = f"{n} " + BODIES[kind](size - 100)[: size - 110]
    return orjson.dumps({"model": "default", "messages": [{"role": "user", "content": text}]})


def probe(url: str, seconds: float, every: float, out: Connection) -> None:
    """In its own process: GET /healthz on one kept-alive connection, every `every` s."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=600)
    latencies: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(every)  # the probing rate
    out.send(latencies)


def probed(url: str, seconds: float, every: float) -> tuple[BaseProcess, Connection]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=probe, args=(url, seconds, every, sender))
    process.start()
    return process, receiver


@dataclass
class Load:
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def load(
    url: str, concurrency: int, size: int, seconds: float, kinds: list[str], distinct: bool
) -> Load:
    """Each client sends one body after another; what is in flight at the end is
    abandoned (the sidecar finishes scanning it on its own)."""
    result = Load()
    headers = {"X-Tenant-ID": "sandbox", "content-type": "application/json"}

    async def client(n: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=None) as http:
            sent = n
            while True:
                content = body(kinds[sent % len(kinds)], size, sent if distinct else 0)
                sent += concurrency
                started = time.perf_counter()
                try:
                    response = await http.post(
                        "/v1/chat/completions", content=content, headers=headers
                    )
                except httpx.HTTPError as error:
                    result.errors[type(error).__name__] += 1
                    continue
                result.statuses[response.status_code] += 1
                result.seconds.append(time.perf_counter() - started)

    clients = [asyncio.create_task(client(n)) for n in range(concurrency)]
    await asyncio.sleep(seconds)  # the load's duration
    for task in clients:
        task.cancel()
    await asyncio.gather(*clients, return_exceptions=True)
    return result


def summary(latencies: list[float]) -> str:
    if len(latencies) < 2:
        return f"n={len(latencies)}"
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"n={len(latencies)}  p50={cuts[49]:.1f} ms  p99={cuts[98]:.1f} ms  "
        f"max={max(latencies):.1f} ms"
    )


async def run(args: argparse.Namespace) -> None:
    size = int(args.body_mb * 1_000_000)
    with tempfile.TemporaryDirectory(prefix="isolation-") as tmp:
        workdir = Path(tmp)
        async with FakeProvider("openai", reply="ok") as fake:
            settings = build_settings(
                workdir,
                [ProviderSpec("openai-1", fake)],
                routing={"deadline_s": 600, "attempt_timeout_s": 600},
                logging={"level": "warning"},
            )
            sidecar = SidecarProcess(settings, workdir, {"TEST_PROVIDER_KEY": API_KEY})
            await sidecar.start()
            try:
                print(f"load average at start: {os.getloadavg()}")
                process, results = probed(sidecar.url, args.idle_seconds, args.probe_every)
                await asyncio.to_thread(process.join)
                idle = results.recv()
                process, results = probed(sidecar.url, args.seconds, args.probe_every)
                done = await load(
                    sidecar.url, args.concurrency, size, args.seconds, args.kinds, not args.repeat
                )
                await asyncio.to_thread(process.join)
                loaded = results.recv()
                print(f"load average at end:   {os.getloadavg()}")
            finally:
                try:
                    sidecar.stop()
                except subprocess.TimeoutExpired:
                    sidecar.kill()  # still scanning an abandoned body
    print(f"/healthz, idle:   {summary(idle)}")
    print(
        f"/healthz, loaded: {summary(loaded)}  "
        f"({args.concurrency} clients sending {'repeated' if args.repeat else 'distinct'} "
        f"{args.body_mb:g} MB bodies: {', '.join(args.kinds)})"
    )
    took = ", ".join(f"{s:.1f}" for s in sorted(done.seconds))
    print(f"large requests: {dict(done.statuses)} errors {dict(done.errors)}; seconds each: {took}")


def main() -> None:
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="seconds of load")
    parser.add_argument("--idle-seconds", type=float, default=10, help="seconds probed idle")
    parser.add_argument("--body-mb", type=float, default=4, help="size of each body, MB")
    parser.add_argument("--concurrency", type=int, default=4, help="clients sending bodies")
    parser.add_argument("--probe-every", type=float, default=0.01, help="seconds between probes")
    parser.add_argument(
        "--kinds", nargs="+", choices=list(BODIES), default=list(BODIES), help="body shapes"
    )
    parser.add_argument(
        "--repeat", action="store_true", help="send each shape's same body again (cached)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
