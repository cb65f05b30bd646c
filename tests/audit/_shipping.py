"""Helpers for the shipping and witness tests: a log to ship, and a shipper for it."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from policy_engine.audit import AuditLog, AuditSettings, ObjectStore, ShipMetrics, Shipper

PREFIX = "fleet"
REPLICA = "r1"
ROOT = f"{PREFIX}/{REPLICA}"


def shipper(
    settings: AuditSettings,
    store: ObjectStore,
    registry: CollectorRegistry | None = None,
    max_backlog: int = 1000,
) -> Shipper:
    metrics = ShipMetrics(registry or CollectorRegistry())
    return Shipper(settings.dir, store, ROOT, metrics, max_backlog, 900)


def append(settings: AuditSettings, count: int, start: int = 0) -> None:
    """`count` more records; closing the log writes a checkpoint at its end."""

    async def fill() -> None:
        log = await AuditLog.open(settings)
        for i in range(start, start + count):
            await log.append({"request_id": f"req-{i}", "tenant": "acme", "outcome": "answered"})
        await log.close()

    asyncio.run(fill())


def truncate_to(settings: AuditSettings, records: int) -> None:
    """Keep the first `records` records and the checkpoints under them (an attacker's cut)."""
    kept = 0
    for path in sorted(settings.dir.glob("segment-*.jsonl")):
        lines = path.read_bytes().rstrip(b"\0").splitlines(keepends=True)
        if kept >= records:
            path.unlink()
            continue
        path.write_bytes(b"".join(lines[: records - kept]))
        kept += min(len(lines), records - kept)
    for note in (settings.dir / "checkpoints").glob("*.note"):
        if int(note.stem) > records:
            note.unlink()
