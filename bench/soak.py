"""Soak: steady load with provider failures injected against a sidecar process.

Samples the RSS and open file descriptors of the sidecar and its audit writer every
few seconds and fails when either grows past its bound after warm-up. Also counts what
must stay zero: requests misrouted, PII leaks, answered requests without an audit record.

    .venv/bin/python -m bench.soak --duration 300     # make soak
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.gateway._procs import descendants
from policy_engine._config import Settings
from policy_engine.audit import iter_records
from tests.fakes import (
    Behaviour,
    ConnectionReset,
    FakeProvider,
    MalformedJSON,
    RateLimited,
    ServerError,
    StreamCut,
    Unavailable,
)
from tests.reliability._process import SidecarProcess
from tests.reliability._support import audit_bytes, hits
from tests.security._support import NEEDLES, PROMPT
from tests.sidecar import API_KEY, ProviderSpec, build_settings

FAULTS: Sequence[Behaviour] = (
    RateLimited(retry_after=0.05),
    ServerError(500),
    Unavailable(),
    ConnectionReset(),
    ConnectionReset(after_bytes=40),
    MalformedJSON(),
    StreamCut(after_events=1),
)
EU_ONLY = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"}


@dataclass
class Tally:
    sent: int = 0
    answered: list[str] = field(default_factory=list)  # request ids of complete answers
    statuses: dict[int, int] = field(default_factory=dict)
    error_bodies: list[bytes] = field(default_factory=list)
    transport_errors: int = 0


@dataclass
class Fleet:
    """Fakes in this process, the sidecar as a child process, and a tally of answers."""

    alpha: FakeProvider
    bravo: FakeProvider
    outsider: FakeProvider  # US: never allowed for an EU-only request
    sidecar: SidecarProcess
    tally: Tally = field(default_factory=Tally)

    @property
    def allowed(self) -> tuple[FakeProvider, FakeProvider]:
        return self.alpha, self.bravo

    async def ask(self, http: httpx.AsyncClient, stream: bool) -> None:
        body = {
            "model": "default",
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": stream,
        }
        self.tally.sent += 1
        url = f"{self.sidecar.url}/v1/chat/completions"  # the port changes on a restart
        try:
            async with http.stream("POST", url, json=body, headers=EU_ONLY) as response:
                raw = await response.aread()
        except httpx.TransportError:
            self.tally.transport_errors += 1
            await asyncio.sleep(0.05)  # back off while the sidecar is down
            return
        status = response.status_code
        self.tally.statuses[status] = self.tally.statuses.get(status, 0) + 1
        event_stream = response.headers.get("content-type", "").startswith("text/event-stream")
        errors = [line for line in raw.splitlines() if b'"error"' in line] if event_stream else []
        if status != 200:
            self.tally.error_bodies.append(raw)
        elif errors:
            self.tally.error_bodies.extend(errors)
        elif not event_stream or raw.rstrip().endswith(b"data: [DONE]"):
            self.tally.answered.append(response.headers["x-request-id"])


async def load(fleet: Fleet, concurrency: int, until: float, rng: random.Random) -> None:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def worker() -> None:
            while time.monotonic() < until:
                await fleet.ask(http, stream=rng.random() < 0.5)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def inject_provider_faults(fleet: Fleet, until: float, rng: random.Random) -> int:
    injected = 0
    while time.monotonic() < until:
        target = rng.choice(fleet.allowed)
        target.script(rng.choice(FAULTS))
        injected += 1
        await asyncio.sleep(0.1)  # the fault rate, not synchronisation
    return injected


@dataclass(frozen=True)
class Figures:
    requests: int
    answered: int
    misrouted: int
    pii_leaks: int
    unrecorded: int
    verify_ok: bool
    leak_places: tuple[str, ...]


def check(fleet: Fleet, log: Path) -> Figures:
    """The invariants over everything that happened, after the sidecar stopped."""
    settings = fleet.sidecar.settings
    records = [r.event for _, r in iter_records(settings.audit.dir) if r.kind == "request"]
    outside = [
        a["provider"]
        for r in records
        if r["policy"] is not None
        for a in r["attempts"]
        if a["provider"] not in r["policy"]["allowed"]
    ]
    misrouted = len(fleet.outsider.received) + len(outside)
    haystacks = [
        *(
            (f"{fake.name} request", received.body)
            for fake in (fleet.alpha, fleet.bravo, fleet.outsider)
            for received in fake.received
        ),
        ("sidecar log", log.read_bytes()),
        ("audit log", audit_bytes(settings.audit.dir)),
        *(("error body", body) for body in fleet.tally.error_bodies),
    ]
    leaks = hits(NEEDLES, haystacks)
    recorded = {r["request_id"] for r in records}
    unrecorded = len([i for i in fleet.tally.answered if i not in recorded])
    verified = fleet.sidecar.verify()
    return Figures(
        fleet.tally.sent,
        len(fleet.tally.answered),
        misrouted,
        len(leaks),
        unrecorded,
        verified.returncode == 0,
        tuple(leaks[:10]),
    )


def print_figures(figures: Figures) -> None:
    print(f"requests sent:                 {figures.requests}")
    print(f"answered (complete 200):       {figures.answered}")
    print(f"misrouted:                     {figures.misrouted}")
    print(f"PII leaks:                     {figures.pii_leaks}")
    for place in figures.leak_places:
        print(f"  {place}")
    print(f"answered without audit record: {figures.unrecorded}")
    print(f"audit verify:                  {'ok' if figures.verify_ok else 'FAILED'}")


def figures_ok(figures: Figures) -> bool:
    return (
        figures.misrouted == 0
        and figures.pii_leaks == 0
        and figures.unrecorded == 0
        and figures.verify_ok
    )


def fleet_settings(
    workdir: Path, fakes: Sequence[FakeProvider], **sections: dict[str, Any]
) -> Settings:
    alpha, bravo, outsider = fakes
    return build_settings(
        workdir,
        [
            ProviderSpec("alpha", alpha, attributes={"residency": "eu"}, priority=1),
            ProviderSpec("bravo", bravo, attributes={"residency": "eu"}, priority=2),
            ProviderSpec("outsider", outsider, attributes={"residency": "us"}, priority=0),
        ],
        routing={
            "connect_timeout_s": 0.5,
            "first_byte_timeout_s": 1,
            "circuit_failure_threshold": 5,
            "circuit_open_s": 1,
        },
        logging={"level": "warning"},
        **sections,
    )


def sample(pid: int) -> tuple[float, int]:
    """RSS in MiB and open file descriptors, summed over the process and its children
    (the audit writer is one)."""
    rss_kb = fds = 0
    for member in descendants(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss_kb += int(line.split()[1])
        fds += len(list(Path(f"/proc/{member}/fd").iterdir()))
    return rss_kb / 1024, fds


async def soak(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        async with (
            FakeProvider("openai", name="alpha") as alpha,
            FakeProvider("anthropic", name="bravo") as bravo,
            FakeProvider("openai", name="outsider") as outsider,
        ):
            settings = fleet_settings(workdir, (alpha, bravo, outsider))
            sidecar = SidecarProcess(settings, workdir, {"TEST_PROVIDER_KEY": API_KEY})
            await sidecar.start()
            fleet = Fleet(alpha, bravo, outsider, sidecar)
            started = time.monotonic()
            until = started + args.duration
            tasks = [
                asyncio.create_task(load(fleet, args.concurrency, until, rng)),
                asyncio.create_task(inject_provider_faults(fleet, until, rng)),
            ]
            samples: list[tuple[float, int, float, int]] = []
            print(f"{'t (s)':>6} {'requests':>9} {'RSS (MiB)':>10} {'fds':>5}")
            while time.monotonic() < until:
                rss, fds = sample(sidecar.pid)
                elapsed = time.monotonic() - started
                samples.append((elapsed, fleet.tally.sent, rss, fds))
                print(f"{elapsed:6.0f} {fleet.tally.sent:9d} {rss:10.1f} {fds:5d}", flush=True)
                await asyncio.sleep(args.sample_every)  # the sampling period
            await asyncio.gather(*tasks)
            rss, fds = sample(sidecar.pid)
            samples.append((time.monotonic() - started, fleet.tally.sent, rss, fds))
            faults = tasks[1].result()
            crashed = sidecar.process is not None and sidecar.process.poll() is not None
            sidecar.stop()
        figures = check(fleet, sidecar.log)
    warm = [s for s in samples if s[0] >= args.warmup] or samples[-1:]
    rss_growth = samples[-1][2] - warm[0][2]
    fd_growth = samples[-1][3] - warm[0][3]
    print(
        f"\nduration {args.duration:.0f} s, concurrency {args.concurrency}, "
        f"{faults} provider faults injected"
    )
    print(f"statuses: {dict(sorted(fleet.tally.statuses.items()))}")
    print(
        f"RSS after warm-up ({args.warmup:.0f} s): {warm[0][2]:.1f} -> {samples[-1][2]:.1f} MiB "
        f"({rss_growth:+.1f}; bound +{args.max_rss_growth_mb})"
    )
    print(
        f"open fds after warm-up: {warm[0][3]} -> {samples[-1][3]} "
        f"({fd_growth:+d}; bound +{args.max_fd_growth})"
    )
    print(f"crashes: {int(crashed)}")
    print_figures(figures)
    ok = (
        figures_ok(figures)
        and not crashed
        and rss_growth <= args.max_rss_growth_mb
        and fd_growth <= args.max_fd_growth
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def quiet_fakes() -> None:
    # A fake whose client hung up mid-stream logs a traceback; that is the fault working.
    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)


def main() -> None:
    quiet_fakes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of load")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before the baseline")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sample-every", type=float, default=5)
    parser.add_argument("--max-rss-growth-mb", type=float, default=20)
    parser.add_argument("--max-fd-growth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=6)
    sys.exit(asyncio.run(soak(parser.parse_args())))


if __name__ == "__main__":
    main()
