"""kill -9 of a sidecar process under heavy concurrent load, three times in a row.

After every restart `policy-engine audit verify` passes, and every request that got
a complete answer before a kill has its record: the answer was released only once
its record was durable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from policy_engine.audit import iter_records
from tests.fakes import FakeProvider
from tests.reliability._process import SidecarProcess
from tests.reliability._support import ask
from tests.sidecar import API_KEY, ProviderSpec, build_settings

TRIALS = 3
CONCURRENCY = 32
ANSWERS_BEFORE_KILL = 150
MAX_REQUESTS_PER_WORKER = 2000
LOAD_TIMEOUT_S = 60


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as provider:
        yield provider


async def load_until_killed(sidecar: SidecarProcess, answered: list[str]) -> None:
    """Concurrent requests, half streamed; kill -9 after `ANSWERS_BEFORE_KILL` more answers."""
    target = len(answered) + ANSWERS_BEFORE_KILL
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=30, limits=limits) as http:

        async def worker(n: int) -> None:
            for _ in range(MAX_REQUESTS_PER_WORKER):
                try:
                    answer = await ask(http, stream=n % 2 == 1)
                except httpx.TransportError:
                    return  # the sidecar is gone
                complete = not answer.stream_failed and (
                    n % 2 == 0 or answer.body.rstrip().endswith(b"data: [DONE]")
                )
                if answer.status == 200 and complete:
                    answered.append(answer.headers["x-request-id"])

        workers = [asyncio.create_task(worker(n)) for n in range(CONCURRENCY)]
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while len(answered) < target:
            assert time.monotonic() < deadline, "the load never reached its target"
            await asyncio.sleep(0.01)  # polling a condition with a bound, not a guess
        sidecar.kill()
        await asyncio.gather(*workers)


async def test_kill_9_under_load_loses_no_answered_request_and_verify_passes(
    tmp_path: Path, fake: FakeProvider
) -> None:
    settings = build_settings(
        tmp_path,
        [ProviderSpec("alpha", fake, attributes={"residency": "eu"})],
        audit={"batch_interval_ms": 2, "checkpoint_every_records": 100},
    )
    sidecar = SidecarProcess(settings, tmp_path, {"TEST_PROVIDER_KEY": API_KEY})
    answered: list[str] = []
    try:
        for _ in range(TRIALS):
            await sidecar.start()
            verified = sidecar.verify()
            assert verified.returncode == 0, verified.stdout + verified.stderr
            await load_until_killed(sidecar, answered)
        await sidecar.start()  # the restart recovers the torn tail of the last kill
        sidecar.stop()
    finally:
        sidecar.kill()

    verified = sidecar.verify()
    assert verified.returncode == 0, verified.stdout + verified.stderr
    recorded = {
        record.event["request_id"]
        for _, record in iter_records(settings.audit.dir)
        if record.kind == "request"
    }
    assert len(answered) >= TRIALS * ANSWERS_BEFORE_KILL
    assert set(answered) <= recorded, "an answered request has no audit record"
