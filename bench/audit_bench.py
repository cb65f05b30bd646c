"""Audit log throughput and per-record cost, and what the write-ahead intent costs.

    .venv/bin/python bench/audit_bench.py [--seconds 3] [--clients 64] [--dir PATH]

Prints the cost of each sealing step (canonicalise, sign, hash); what one write plus
fdatasync costs on the disk, appending or over pre-zeroed blocks (as the log writes);
then records/s and append latency with fsync=batch and fsync=every_record, and with one
client at a time (the latency a lone request pays), with the CPU per record of the
caller and of the writer process. Then requests as the pipeline records them, at 1
and 16 clients: an outcome record only (before issue 19), and a durable intent record
followed by the outcome (the write-ahead log): requests/s, the audit wait a request
pays (p50), and CPU per request. Each run is bounded in time. `--dir` picks the
filesystem to measure (fsync cost is the disk's); default is a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import ProviderConfig
from policy_engine.audit import AuditLog, AuditSettings, RecordSigner, hash_leaf, write_key_pair
from policy_engine.pipeline import RequestOutcome
from policy_engine.routing import Candidate

EVENT: dict[str, Any] = {
    "request_id": "0b6f5d1e-8c1a-4b7e-9d5c-3f2a1e0d9c8b",
    "tenant": "acme-eu",
    "context": {"residency": "eu", "privacy_tags": ["pii"], "model": "default", "stream": False},
    "policy": {
        "revision": "sha256:" + "ab" * 32,
        "allowed": ["mistral-eu", "azure-eu"],
        "denied": {"openai-us": ["residency"]},
        "obligations": {"redact": {"azure-eu": ["EMAIL_ADDRESS", "PHONE_NUMBER"]}},
    },
    "attempts": [
        {"provider": "mistral-eu", "outcome": "rate_limited", "status": 429, "latency_ms": 41.7},
        {"provider": "azure-eu", "outcome": "ok", "status": 200, "latency_ms": 812.25},
    ],
    "outcome": "answered",
    "redactions": {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1},
    "usage": {"input_tokens": 1234, "output_tokens": 456},
}


# The intent record as the pipeline writes it for the request above.
INTENT: dict[str, Any] = {
    "request_id": EVENT["request_id"],
    "protocol": "openai",
    "caller": "anonymous",
    "tenant": "acme-eu",
    "context": EVENT["context"],
    "policy": {"revision": "sha256:" + "ab" * 32, "allowed": ["mistral-eu", "azure-eu"]},
    "candidates": [
        {"provider": "mistral-eu", "model": "mistral-large", "redact": []},
        {"provider": "azure-eu", "model": "gpt-4o", "redact": ["EMAIL_ADDRESS", "PHONE_NUMBER"]},
    ],
    "redactions": {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1},
    "unredactable": [],
}


def per_call_us(action: Callable[[], object], rounds: int = 5000) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        action()
    return (time.perf_counter() - start) / rounds * 1e6


def breakdown() -> None:
    key = Ed25519PrivateKey.generate()
    signer = RecordSigner(key)
    unsigned: dict[str, Any] = {
        "at": "2026-01-01T00:00:00.000000Z",
        "event": EVENT,
        "kid": signer.kid,
        "kind": "request",
        "prev": "0" * 64,
        "seq": 1,
    }
    body = rfc8785.dumps(unsigned)
    line = signer.seal(
        seq=1, prev="0" * 64, at="2026-01-01T00:00:00.000000Z", kind="request", event=EVENT
    )
    print(f"record size: {len(line)} bytes")
    print(f"  canonicalise (rfc8785): {per_call_us(lambda: rfc8785.dumps(unsigned)):7.1f} us")
    print(f"  sign (Ed25519):         {per_call_us(lambda: key.sign(body)):7.1f} us")
    print(f"  leaf hash (SHA-256):    {per_call_us(lambda: hash_leaf(line)):7.1f} us")
    total = per_call_us(
        lambda: signer.seal(seq=1, prev="0" * 64, at="x", kind="request", event=EVENT)
    )
    print(f"  full seal:              {total:7.1f} us")


def disk_probe(directory: Path, writes: int = 1000) -> None:
    """p50/p90 of one ~840-byte pwrite + fdatasync: appending, and over pre-zeroed blocks."""
    record = b"x" * 839 + b"\n"
    for mode in ("append", "pre-zeroed"):
        path = directory / f"probe-{mode}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if mode == "pre-zeroed":
                os.pwrite(fd, bytes(writes * len(record) + 4096), 0)
                os.fsync(fd)
            times = []
            for index in range(writes):
                start = time.perf_counter()
                os.pwrite(fd, record, index * len(record))
                os.fdatasync(fd)
                times.append(time.perf_counter() - start)
        finally:
            os.close(fd)
            path.unlink()
        times.sort()
        print(
            f"disk: write + fdatasync, {mode:<10}  p50 {times[len(times) // 2] * 1e3:5.3f} ms  "
            f"p90 {times[len(times) * 9 // 10] * 1e3:5.3f} ms  ({writes} writes)"
        )


async def throughput(
    directory: Path,
    key_file: Path,
    mode: Literal["batch", "every_record"],
    seconds: float,
    clients: int,
    interval_ms: float | None,
) -> None:
    settings = AuditSettings(dir=directory, signing_key_file=key_file, fsync=mode)
    if interval_ms is not None:
        settings = settings.model_copy(update={"batch_interval_ms": interval_ms})
    log = await AuditLog.open(settings)
    cpu, writer_cpu = os.times(), _process_cpu_s(log.writer_pid)
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            await log.append(EVENT)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    after, writer_after = os.times(), _process_cpu_s(log.writer_pid)
    await log.close()
    latencies.sort()
    p50 = statistics.median(latencies) * 1e3
    p99 = latencies[int(len(latencies) * 0.99)] * 1e3
    count = len(latencies)
    caller = (after.user + after.system - cpu.user - cpu.system) / count * 1e6
    writer = (writer_after - writer_cpu) / count * 1e6
    print(
        f"fsync={mode:<12} {count / elapsed:9.0f} records/s  "
        f"append p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
        f"CPU {caller + writer:4.0f} us/record (caller {caller:.0f}, writer process "
        f"{writer:.0f})  ({count} records, {clients} clients)"
    )


def intent_building() -> None:
    """What the sidecar spends on the intent before the writer sees it: the event from
    the request's outcome and plan, and its JSON (as `AuditLog.submit` dumps it)."""
    outcome = RequestOutcome(request_id=EVENT["request_id"], protocol="openai")
    outcome.caller, outcome.tenant = "anonymous", "acme-eu"
    outcome.redactions = dict(EVENT["redactions"])
    plan = [
        Candidate(_provider(provider, model), model, frozenset(redact))
        for provider, model, redact in [
            ("mistral-eu", "mistral-large", ()),
            ("azure-eu", "gpt-4o", ("EMAIL_ADDRESS", "PHONE_NUMBER")),
        ]
    ]
    build = per_call_us(lambda: outcome.intent_event(plan))
    dump = per_call_us(lambda: orjson.dumps(INTENT, option=orjson.OPT_STRICT_INTEGER))
    print(f"intent event in the sidecar: build {build:.1f} us, JSON {dump:.1f} us")


def _provider(provider: str, model: str) -> ProviderConfig:
    return ProviderConfig(
        id=provider, adapter="openai", base_url="https://example.com/v1", models={"default": model}
    )


async def requests(
    directory: Path, key_file: Path, seconds: float, clients: int, write_ahead: bool
) -> None:
    """Requests recorded as the pipeline records them, with or without the intent."""
    log = await AuditLog.open(AuditSettings(dir=directory, signing_key_file=key_file))
    cpu, writer_cpu = os.times(), _process_cpu_s(log.writer_pid)
    waits: list[float] = []
    deadline = time.monotonic() + seconds

    async def client() -> None:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            intent_seq = await log.append(INTENT, "intent") if write_ahead else None
            await log.append({**EVENT, "intent_seq": intent_seq})
            waits.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    after, writer_after = os.times(), _process_cpu_s(log.writer_pid)
    await log.close()
    count = len(waits)
    caller = (after.user + after.system - cpu.user - cpu.system) / count * 1e6
    writer = (writer_after - writer_cpu) / count * 1e6
    label = "intent + outcome" if write_ahead else "outcome only"
    print(
        f"{label:<16} c={clients:<3} {count / elapsed:8.0f} requests/s  "
        f"audit wait p50 {statistics.median(waits) * 1e3:6.3f} ms  "
        f"CPU {caller + writer:4.0f} us/request (caller {caller:.0f}, writer process "
        f"{writer:.0f})  ({count} requests)"
    )


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after the command name: state=0 ...
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per fsync mode")
    parser.add_argument("--clients", type=int, default=64, help="concurrent appenders")
    parser.add_argument(
        "--interval-ms",
        type=float,
        help="extra group-commit window (batch mode; default: audit.batch_interval_ms's)",
    )
    parser.add_argument("--dir", type=Path, help="where to write (default: a temp dir)")
    args = parser.parse_args()
    breakdown()
    with tempfile.TemporaryDirectory(dir=args.dir) as temp:
        root = Path(temp)
        disk_probe(root)
        private, _ = write_key_pair(root / "keys", Ed25519PrivateKey.generate())
        runs: list[tuple[Literal["batch", "every_record"], int]] = [
            ("batch", args.clients),
            ("every_record", args.clients),
            ("batch", 1),
        ]
        for mode, clients in runs:
            asyncio.run(
                throughput(
                    root / f"{mode}-{clients}",
                    private,
                    mode,
                    args.seconds,
                    clients,
                    args.interval_ms,
                )
            )
        intent_building()
        for clients in (1, 16):
            for write_ahead in (False, True):
                name = f"requests-{clients}-{write_ahead}"
                asyncio.run(requests(root / name, private, args.seconds, clients, write_ahead))


if __name__ == "__main__":
    main()
