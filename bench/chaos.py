"""Chaos: a randomised fault run against a sidecar process, printing what must stay zero.

Load runs throughout while faults are drawn at random: provider faults (errors,
resets, stalls, garbage, oversized answers), a provider going away, OPA killed and
restarted, the audit disk filling up (a tmpfs; needs root), and kill -9 of the
sidecar itself. At the end: faults tried, requests sent, and the counts that must be
zero: misrouted requests, PII leaks, answered requests without an audit record, and
crashes (exits nobody caused).

    .venv/bin/python -m bench.chaos --duration 180     # make chaos
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.soak import FAULTS, Fleet, check, fleet_settings, load, print_figures, quiet_fakes
from tests.decision._support import OPA_BINARY, opa_arguments
from tests.fakes import (
    Behaviour,
    ContentFilter,
    FakeProvider,
    InvalidRequest,
    MalformedSSE,
    Overloaded,
    Oversized,
    SlowFirstByte,
    StallStream,
    WrongContentType,
)
from tests.ports import free_port
from tests.reliability._process import SidecarProcess
from tests.sidecar import API_KEY, POLICY_DIR

MORE_FAULTS: tuple[Behaviour, ...] = (
    *FAULTS,
    Overloaded(),
    SlowFirstByte(2),
    StallStream(after_events=2, seconds=2),
    MalformedSSE(),
    WrongContentType(),
    Oversized(33 * 1024 * 1024),
    InvalidRequest(),
    ContentFilter(),
)
AUDIT_DISK = "64m"
OUTAGE_S = 2.0


class Opa:
    """A real OPA on a fixed port, so the sidecar finds it again after a restart."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self._log.open("ab") as log:
            return subprocess.Popen(
                [
                    str(OPA_BINARY),
                    "run",
                    "--server",
                    f"--addr=127.0.0.1:{self.port}",
                    "--skip-version-check",
                    "--log-level=error",
                    *opa_arguments(POLICY_DIR),
                ],
                stdout=log,
                stderr=log,
            )

    async def start(self) -> None:
        self.process = self._spawn()
        async with httpx.AsyncClient(timeout=1) as http:
            for _ in range(300):
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.url}/health")).status_code == 200:
                        return
                await asyncio.sleep(0.05)  # polling a condition with a bound
        raise RuntimeError("OPA did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Chaos:
    def __init__(self, fleet: Fleet, opa: Opa, audit_dir: Path | None, rng: random.Random) -> None:
        self.fleet = fleet
        self.opa = opa
        self.audit_dir = audit_dir
        self.rng = rng
        self.tried: Counter[str] = Counter()
        self.crashes = 0

    async def provider_fault(self) -> None:
        self.rng.choice(self.fleet.allowed).script(self.rng.choice(MORE_FAULTS))

    async def provider_gone(self) -> None:
        fake = self.rng.choice(self.fleet.allowed)
        await fake.stop()  # connection refused from now on
        await asyncio.sleep(OUTAGE_S)
        await fake.start()  # a fake restarts on the port it had, the one the config names

    async def opa_down(self) -> None:
        self.opa.kill()
        await asyncio.sleep(OUTAGE_S)
        await self.opa.start()

    async def audit_disk_full(self) -> None:
        assert self.audit_dir is not None
        filler = self.audit_dir / "filler"
        stats = os.statvfs(self.audit_dir)
        with contextlib.suppress(OSError), filler.open("wb") as handle:
            os.posix_fallocate(handle.fileno(), 0, stats.f_bavail * stats.f_frsize)
        await asyncio.sleep(OUTAGE_S)
        filler.unlink()

    async def sidecar_killed(self) -> None:
        self.fleet.sidecar.kill()
        await self.fleet.sidecar.start()

    async def run(self, until: float) -> None:
        faults: dict[str, Callable[[], Awaitable[None]]] = {
            "provider fault": self.provider_fault,
            "provider gone": self.provider_gone,
            "OPA killed": self.opa_down,
            "sidecar kill -9": self.sidecar_killed,
        }
        weights = {"provider fault": 30, "provider gone": 2, "OPA killed": 2, "sidecar kill -9": 1}
        if self.audit_dir is not None:
            faults["audit disk full"] = self.audit_disk_full
            weights["audit disk full"] = 2
        names = list(faults)
        while time.monotonic() < until:
            process = self.fleet.sidecar.process
            if process is not None and process.poll() is not None:
                self.crashes += 1  # an exit nobody caused
                await self.fleet.sidecar.start()
            name = self.rng.choices(names, [weights[n] for n in names])[0]
            self.tried[name] += 1
            await faults[name]()
            await asyncio.sleep(self.rng.uniform(0.05, 0.5))  # the fault rate


def mount_tmpfs(directory: Path) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    command = ["mount", "-t", "tmpfs", "-o", f"size={AUDIT_DISK}", "tmpfs", str(directory)]
    return subprocess.run(command, capture_output=True).returncode == 0


def unmount(directory: Path) -> None:
    subprocess.run(["umount", "-l", str(directory)], check=False)


async def chaos(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        workdir = Path(tmp)
        audit_dir = workdir / "audit"
        mounted = mount_tmpfs(audit_dir)
        if not mounted:
            print("not root: the audit-disk-full fault is left out")
        opa = Opa(workdir / "opa.log")
        await opa.start()
        try:
            async with (
                FakeProvider("openai", name="alpha") as alpha,
                FakeProvider("anthropic", name="bravo") as bravo,
                FakeProvider("openai", name="outsider") as outsider,
            ):
                settings = fleet_settings(
                    workdir,
                    (alpha, bravo, outsider),
                    policy={"opa_url": opa.url, "timeout_ms": 500},
                    audit={"segment_max_bytes": 4 * 1024 * 1024},
                )
                sidecar = SidecarProcess(settings, workdir, {"TEST_PROVIDER_KEY": API_KEY})
                await sidecar.start()
                fleet = Fleet(alpha, bravo, outsider, sidecar)
                runner = Chaos(fleet, opa, audit_dir if mounted else None, rng)
                until = time.monotonic() + args.duration
                await asyncio.gather(load(fleet, args.concurrency, until, rng), runner.run(until))
                process = sidecar.process
                if process is not None and process.poll() is not None:
                    runner.crashes += 1
                    await sidecar.start()
                sidecar.stop()
                await sidecar.start()  # a restart after the last kill recovers its torn tail
                sidecar.stop()
            figures = check(fleet, sidecar.log)
        finally:
            opa.kill()
            if mounted:
                unmount(audit_dir)
    print(f"duration {args.duration:.0f} s, concurrency {args.concurrency}, seed {args.seed}")
    print(f"faults tried:                  {sum(runner.tried.values())}")
    for name, count in sorted(runner.tried.items()):
        print(f"  {name:28} {count}")
    print(
        f"statuses: {dict(sorted(fleet.tally.statuses.items()))}, "
        f"connection errors while down: {fleet.tally.transport_errors}"
    )
    print_figures(figures)
    print(f"crashes:                       {runner.crashes}")
    ok = figures.misrouted == figures.pii_leaks == figures.unrecorded == runner.crashes == 0
    ok = ok and figures.verify_ok
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> None:
    quiet_fakes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed", type=int, default=6)
    sys.exit(asyncio.run(chaos(parser.parse_args())))


if __name__ == "__main__":
    main()
