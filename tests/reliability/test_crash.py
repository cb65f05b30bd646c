"""kill -9 of the sidecar and of its audit writer, at random moments under concurrent load.

After the restarts: every request that reached the provider has a durable intent record,
every complete answer an outcome record naming that intent, and `policy-engine audit
verify` passes (see `_crash`; `make crash` runs the same with a hundred kills).
"""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes import FakeProvider
from tests.reliability._crash import CrashRun, alternating, crash_sidecar

KILLS = 20  # ten of the sidecar, ten of its writer


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as provider:
        yield provider


async def test_kill_9_of_the_sidecar_or_its_writer_under_load_loses_no_record(
    tmp_path: Path, fake: FakeProvider
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    run = CrashRun(crash_sidecar(tmp_path, fake), fake, rng)

    findings = await run.run(alternating(KILLS, rng))

    context = f"seed {seed}: {findings.summary()}"
    assert findings.kills == {"sidecar": KILLS // 2, "writer": KILLS // 2}, context
    assert findings.sends_without_intent == [], context
    assert findings.answers_without_outcome == [], context
    assert findings.verify_ok, f"{context}\n{findings.verify_output}"
    assert findings.answered > 0, context
