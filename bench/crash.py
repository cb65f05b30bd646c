"""Crash run: kill -9 of the sidecar and of its audit writer at random moments under load.

The same run as tests/reliability/test_crash.py with more kills (half of each), printing
what must hold afterwards: requests that reached the provider without a durable intent
record, complete answers without an outcome record (both must be zero), and whether
`policy-engine audit verify` passes; plus the intents a kill left without an outcome.

    .venv/bin/python -m bench.crash --kills 100     # make crash
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.soak import quiet_fakes
from tests.fakes import FakeProvider
from tests.reliability._crash import CrashRun, alternating, crash_sidecar


async def crash(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-") as tmp:
        async with FakeProvider("openai", name="alpha") as fake:
            run = CrashRun(crash_sidecar(Path(tmp), fake), fake, rng, args.concurrency)
            findings = await run.run(alternating(args.kills, rng))
    print(f"kills {args.kills}, concurrency {args.concurrency}, seed {args.seed}")
    print(f"duration:                             {time.monotonic() - started:.0f} s")
    print(f"requests sent:                        {findings.sent}")
    print(f"complete answers:                     {findings.answered}")
    print(f"kills:                                {findings.kills}")
    print(f"intent records:                       {findings.intents}")
    print(f"intents a kill left without outcome:  {findings.interrupted}")
    print(f"sent without a durable intent:        {len(findings.sends_without_intent)}")
    print(f"answered without an outcome record:   {len(findings.answers_without_outcome)}")
    print(f"audit verify:                         {'ok' if findings.verify_ok else 'FAILED'}")
    if not findings.verify_ok:
        print(findings.verify_output)
    print("PASS" if findings.ok else "FAIL")
    return 0 if findings.ok else 1


def main() -> None:
    quiet_fakes()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seed", type=int, default=19)
    sys.exit(asyncio.run(crash(parser.parse_args())))


if __name__ == "__main__":
    main()
