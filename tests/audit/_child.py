"""A separate process for the crash and disk-full tests: `python _child.py MODE LOG_DIR KEY ...`.

crash:     append from many tasks forever, printing "seq request_id" once acknowledged.
disk-full: cap the writer process's file size with RLIMIT_FSIZE a little past the
           records (so inside the segment's zero tail), append until the log refuses,
           lift the cap, append again; print one JSON line per step. An optional last argument sets
           `prezero_bytes`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import resource
import sys
from pathlib import Path
from typing import Literal

import structlog

from policy_engine.audit import AuditLog, AuditSettings, AuditUnavailable


def settings(
    directory: str,
    key: str,
    on_failure: Literal["fail_closed", "fail_open"],
    prezero_bytes: int = AuditSettings.model_fields["prezero_bytes"].default,
) -> AuditSettings:
    return AuditSettings(
        dir=Path(directory),
        signing_key_file=Path(key),
        on_failure=on_failure,
        prezero_bytes=prezero_bytes,
    )


async def crash(directory: str, key: str, prefix: str) -> None:
    log = await AuditLog.open(settings(directory, key, "fail_closed"))
    counter = itertools.count()

    async def client() -> None:
        while True:
            request_id = f"{prefix}-{next(counter)}"
            seq = await log.append({"request_id": request_id, "tenant": "acme-eu"})
            sys.stdout.write(f"{seq} {request_id}\n")
            sys.stdout.flush()

    await asyncio.gather(*(client() for _ in range(32)))


def say(**fields: object) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def disk_full(directory: str, key: str, on_failure: str, prezero: list[str]) -> None:
    mode: Literal["fail_closed", "fail_open"] = (
        "fail_open" if on_failure == "fail_open" else "fail_closed"
    )
    log = await AuditLog.open(settings(directory, key, mode, *map(int, prezero)))
    await log.append({"request_id": "before"})
    segment = Path(directory) / "segment-00000001.jsonl"
    records_end = len(segment.read_bytes().rstrip(b"\0"))
    _, hard = resource.prlimit(log.writer_pid, resource.RLIMIT_FSIZE)
    # The cap holds for every write past it, zeros already there or not. (The writer
    # ignores SIGXFSZ, so the write fails with EFBIG rather than killing it.)
    resource.prlimit(log.writer_pid, resource.RLIMIT_FSIZE, (records_end + 600, hard))
    for attempt in range(20):
        try:
            seq = await log.append({"request_id": f"full-{attempt}", "padding": "x" * 200})
        except AuditUnavailable as exc:
            say(step="refused", error=str(exc), healthy=log.healthy)
            break
        say(step="appended", seq=seq, healthy=log.healthy)
        if seq < 0:
            break
    resource.prlimit(log.writer_pid, resource.RLIMIT_FSIZE, (hard, hard))
    seq = await log.append({"request_id": "after"})
    say(step="recovered", seq=seq, healthy=log.healthy)
    await log.close()


def main() -> None:
    # stdout carries the protocol to the parent; log lines go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    mode, directory, key, extra, *prezero = sys.argv[1:]
    if mode == "crash":
        asyncio.run(crash(directory, key, extra))
    else:
        asyncio.run(disk_full(directory, key, extra, prezero))
    os._exit(0)


if __name__ == "__main__":
    main()
