"""Verifying and reopening a large audit log.

    .venv/bin/python bench/audit_verify_bench.py [--records 1000000] [--tail 10000]
        [--jobs 2] [--dir PATH] [--reuse] [--only SECTION ...]

Writes a log of --records records (audit_bench.py's sample event, a checkpoint every
1,000 records) through the log's writer, without its process, then prints:
- `verify`: `audit verify` of the whole log, records/s, with 1 and --jobs processes;
- `since`: verify of the last --tail records from the trusted checkpoint before them;
- `startup`: the writer's start-up (recovery) resumed from the latest checkpoint, the
  same with the resume files moved away (the whole log read), and a full
  `AuditLog.open` + `close` (writer process included);
- `checkpoints`: verify of --many-records records (100,000) with a checkpoint every
  --many-every records (256), the case that was quadratic in checkpoints. It calls only
  `verify_log(dir, [key])`, so it also runs against an older checkout
  (`PYTHONPATH=that/checkout`) for a before figure.
--reuse keeps the generated logs in --dir and reuses them on the next run.
CPU is reported beside wall time: on a shared machine the wall time says more about
the other load than about the verifier.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from audit_bench import EVENT
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import (
    AuditLog,
    AuditSettings,
    NoteSigner,
    RecordSigner,
    load_private_key,
    load_public_key,
    verify_log,
    write_key_pair,
)
from policy_engine.audit._recovery import recover
from policy_engine.audit._writer import LogWriter

T = TypeVar("T")
SECTIONS = ("verify", "since", "startup", "checkpoints")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def generate(root: Path, records: int, every: int) -> AuditSettings:
    """A closed log of `records` records, checkpointed every `every`, in root/log."""
    key_file = root / "keys" / "audit-signing-key.pem"
    if not key_file.exists():
        write_key_pair(root / "keys", Ed25519PrivateKey.generate())
    settings = AuditSettings(
        dir=root / "log", signing_key_file=key_file, prezero_bytes=0, checkpoint_every_records=every
    )
    marker = root / f"complete-{records}"
    if marker.exists():
        return settings
    shutil.rmtree(settings.dir, ignore_errors=True)
    key = load_private_key(key_file)
    (settings.dir / "checkpoints").mkdir(parents=True)
    state = recover(settings.dir)
    writer = LogWriter(
        settings, state, RecordSigner(key), NoteSigner(settings.origin, key), lambda *_: None
    )
    _, seconds = timed(lambda: _fill(writer, records, every))
    writer.close()
    print(f"generated {records} records in {seconds:.1f} s ({records / seconds:,.0f} records/s)")
    marker.touch()
    return settings


def _fill(writer: LogWriter, records: int, every: int) -> None:
    written = 0
    while written < records:
        count = min(every, records - written)
        writer.commit([(0, "request", EVENT)] * count)
        writer.maybe_checkpoint()
        written += count


def public(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


def bench_verify(settings: AuditSettings, jobs: int) -> None:
    key = public(settings)
    for processes in sorted({1, jobs}):
        start, cpu = time.perf_counter(), os.times()
        report = verify_log(settings.dir, [key], jobs=processes)
        seconds, after = time.perf_counter() - start, os.times()
        own = (after.user + after.system - cpu.user - cpu.system) / report.records * 1e6
        workers = (
            (after.children_user + after.children_system - cpu.children_user - cpu.children_system)
            / report.records
            * 1e6
        )
        print(
            f"verify, whole log, jobs={processes}: {report.records} records in {seconds:.1f} s "
            f"= {report.records / seconds:,.0f} records/s; CPU {own:.0f} us/record in the "
            f"verifier, {workers:.0f} in workers ({report.checkpoints} checkpoints)"
        )


def bench_since(settings: AuditSettings, records: int, tail: int) -> None:
    size = records - tail
    note = (settings.dir / "checkpoints" / f"{size:020d}.note").read_bytes()
    report, seconds = timed(
        lambda: verify_log(settings.dir, [public(settings)], since=("held", note))
    )
    print(
        f"verify --since-checkpoint {size}: {report.records} records in {seconds * 1000:.0f} ms "
        f"(consistent to {report.consistent_to})"
    )


def bench_startup(settings: AuditSettings) -> None:
    state, seconds = timed(lambda: recover(settings.dir))
    print(f"start-up state, resumed from checkpoint {state.resumed_from}: {seconds * 1000:.1f} ms")
    aside = settings.dir.parent / "resume-aside"
    aside.mkdir(exist_ok=True)
    resume_files = list((settings.dir / "checkpoints").glob("*.resume"))
    for path in resume_files:
        path.rename(aside / path.name)
    try:
        state, seconds = timed(lambda: recover(settings.dir))
        print(f"start-up state, whole log read (no resume file): {seconds:.1f} s")
    finally:
        for path in resume_files:
            (aside / path.name).rename(path)

    async def open_and_close() -> None:
        log = await AuditLog.open(settings)
        await log.close()

    _, seconds = timed(lambda: asyncio.run(open_and_close()))
    print(f"AuditLog.open + close (writer process, resumed): {seconds * 1000:.0f} ms")


def bench_checkpoints(root: Path, records: int, every: int) -> None:
    settings = generate(root, records, every)
    report, seconds = timed(lambda: verify_log(settings.dir, [public(settings)]))
    print(
        f"verify, {records} records with a checkpoint every {every} ({report.checkpoints} "
        f"checkpoints): {seconds:.1f} s = {report.records / seconds:,.0f} records/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tail", type=int, default=10_000, help="records after the checkpoint")
    parser.add_argument("--jobs", type=int, default=2, help="processes for the second verify")
    parser.add_argument("--dir", type=Path, help="where to write (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the logs in --dir")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--many-records", type=int, default=100_000, help="for `checkpoints`")
    parser.add_argument("--many-every", type=int, default=256, help="for `checkpoints`")
    args = parser.parse_args()
    if args.reuse and args.dir is None:
        parser.error("--reuse needs --dir")
    if args.records % 1000 or args.tail % 1000:
        parser.error("--records and --tail must be multiples of 1000 (the checkpoint interval)")
    root = args.dir if args.reuse else Path(tempfile.mkdtemp(dir=args.dir))
    try:
        if set(args.only) - {"checkpoints"}:
            settings = generate(root / "large", args.records, 1000)
            if "verify" in args.only:
                bench_verify(settings, args.jobs)
            if "since" in args.only:
                bench_since(settings, args.records, args.tail)
            if "startup" in args.only:
                bench_startup(settings)
        if "checkpoints" in args.only:
            bench_checkpoints(
                root / f"checkpoints-{args.many_every}", args.many_records, args.many_every
            )
    finally:
        if not args.reuse:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
