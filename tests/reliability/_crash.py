"""kill -9 of the sidecar, or of its audit writer, at random moments under load.

Concurrent numbered requests, half streamed, run against a recording fake whose answers
stall mid-way (so streams are open and requests in flight at every moment); at a random
point the sidecar or its writer process is killed with SIGKILL, and the load goes on
after the restart. Afterwards: every request that reached the fake has a durable intent
record, every request whose client got a complete answer has an outcome record naming
that intent, and `policy-engine audit verify` passes. Used by tests/reliability/
test_crash.py (twenty kills, in `make test`) and bench/crash.py (`make crash`, a hundred).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from tests.fakes import FakeProvider, StallStream
from tests.reliability._process import SidecarProcess
from tests.reliability._support import (
    answers_without_outcome,
    ask,
    numbered,
    records,
    sends_without_intent,
)
from tests.sidecar import API_KEY, ProviderSpec, build_settings

Target = Literal["sidecar", "writer"]
CONCURRENCY = 16
# A kill comes after a random number of answers in this range since the (re)start.
ANSWERS_BEFORE_KILL = (2, 40)
# After a writer kill, this many answers show the sidecar's new writer took over.
ANSWERS_AFTER_WRITER_RESTART = 3
PROGRESS_TIMEOUT_S = 60.0
# Every answer pauses this long after its first event: requests are always in flight.
STALL = StallStream(after_events=1, seconds=0.05)


def writer_pid(sidecar_pid: int) -> int:
    """The sidecar's audit writer: its child running `_writer_process`."""
    for task in Path(f"/proc/{sidecar_pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"_writer_process" in Path(f"/proc/{child}/cmdline").read_bytes():
                return int(child)
    raise LookupError(f"sidecar {sidecar_pid} has no audit writer")


@dataclass
class Findings:
    sent: int
    answered: int
    kills: dict[str, int]
    intents: int
    interrupted: int  # intents with no outcome: requests a kill cut short
    sends_without_intent: list[int]
    answers_without_outcome: list[str]
    verify_output: str
    verify_ok: bool

    @property
    def ok(self) -> bool:
        return self.verify_ok and not self.sends_without_intent and not self.answers_without_outcome

    def summary(self) -> str:
        return (
            f"requests sent {self.sent}, answered {self.answered}, kills {self.kills}, "
            f"intents {self.intents}, interrupted {self.interrupted}, "
            f"sends without intent {len(self.sends_without_intent)}, "
            f"answers without outcome {len(self.answers_without_outcome)}, "
            f"verify {'ok' if self.verify_ok else 'FAILED'}"
        )


@dataclass
class CrashRun:
    sidecar: SidecarProcess
    fake: FakeProvider
    rng: random.Random
    concurrency: int = CONCURRENCY
    answered: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=lambda: {"sidecar": 0, "writer": 0})
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sent: int = 0

    async def run(self, targets: list[Target]) -> Findings:
        try:
            for target in targets:
                await self._cycle(target)
            await self._start()  # the restart after the last kill recovers its torn tail
            self.sidecar.stop()
        finally:
            self.sidecar.kill()
        return self.findings()

    async def _start(self) -> None:
        process = self.sidecar.process
        if process is None or process.poll() is not None:
            await self.sidecar.start()

    async def _cycle(self, target: Target) -> None:
        await self._start()
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(base_url=self.sidecar.url, timeout=30, limits=limits) as http:
            workers = [
                asyncio.create_task(self._worker(http, n % 2 == 1, stop))
                for n in range(self.concurrency)
            ]
            try:
                await self._until_answered(self.rng.randint(*ANSWERS_BEFORE_KILL))
                if target == "sidecar":
                    self.sidecar.kill()
                else:
                    os.kill(writer_pid(self.sidecar.pid), signal.SIGKILL)
                    await self._until_answered(ANSWERS_AFTER_WRITER_RESTART)
                self.kills[target] += 1
            finally:
                stop.set()
                await asyncio.gather(*workers)

    async def _worker(self, http: httpx.AsyncClient, stream: bool, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._sent += 1
            try:
                answer = await ask(http, stream, prompt=numbered(next(self._numbers)))
            except httpx.TransportError:
                return  # the sidecar is gone
            complete = answer.status == 200 and not answer.stream_failed
            if complete and (not stream or answer.body.rstrip().endswith(b"data: [DONE]")):
                self.answered.append(answer.headers["x-request-id"])

    async def _until_answered(self, more: int) -> None:
        target = len(self.answered) + more
        deadline = time.monotonic() + PROGRESS_TIMEOUT_S
        while len(self.answered) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"the load stalled:\n{self.sidecar.log_tail()}")
            await asyncio.sleep(0.005)  # polling a condition with a bound, not a guess

    def findings(self) -> Findings:
        audit_dir = self.sidecar.settings.audit.dir
        intents = {r.event["request_id"] for r in records(audit_dir, "intent")}
        outcomes = {r.event["request_id"] for r in records(audit_dir, "request")}
        verified = self.sidecar.verify()
        return Findings(
            sent=self._sent,
            answered=len(self.answered),
            kills=dict(self.kills),
            intents=len(intents),
            interrupted=len(intents - outcomes),
            sends_without_intent=sends_without_intent([self.fake], audit_dir),
            answers_without_outcome=answers_without_outcome(self.answered, audit_dir),
            verify_output=verified.stdout + verified.stderr,
            verify_ok=verified.returncode == 0,
        )


def crash_sidecar(workdir: Path, fake: FakeProvider) -> SidecarProcess:
    fake.always(STALL)
    settings = build_settings(
        workdir,
        [ProviderSpec("alpha", fake, attributes={"residency": "eu"})],
        audit={"batch_interval_ms": 1, "checkpoint_every_records": 100},
    )
    return SidecarProcess(settings, workdir, {"TEST_PROVIDER_KEY": API_KEY})


def alternating(kills: int, rng: random.Random) -> list[Target]:
    """`kills` targets, as many of each as can be, in a random order."""
    targets: list[Target] = ["sidecar" if n % 2 == 0 else "writer" for n in range(kills)]
    rng.shuffle(targets)
    return targets
