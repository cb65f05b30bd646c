"""AuditLog: group-committed appends, checkpoints, recovery of a torn tail, key checks."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvloop
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs

from policy_engine.audit import (
    AuditError,
    AuditLog,
    AuditSettings,
    AuditUnavailable,
    KeyFileError,
    LogCorrupted,
    LogLocked,
    RecordError,
    RecordSigner,
    iter_records,
    load_public_key,
    open_checkpoint,
    parse_record,
    tree_root,
    verify_log,
)


def event(request_id: str, **extra: Any) -> dict[str, Any]:
    return {"request_id": request_id, "tenant": "acme-eu", "outcome": "answered", **extra}


def list_checkpoint_sizes(directory: Path) -> list[int]:
    return sorted(int(path.stem) for path in (directory / "checkpoints").glob("*.note"))


def public_key(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


async def write(settings: AuditSettings, count: int, prefix: str = "req") -> list[int]:
    log = await AuditLog.open(settings)
    seqs = await asyncio.gather(*(log.append(event(f"{prefix}-{i}")) for i in range(count)))
    await log.close()
    return list(seqs)


def test_a_batch_leaves_for_the_writer_in_the_loop_turn_that_flushes_it(
    settings: AuditSettings,
) -> None:
    """Under uvloop (the loop the sidecar serves on) a transport holds small writes until
    the end of the loop turn, and the writer would start sealing only after the rest of
    that turn's work: at 16 clients that cost ~15% of the requests per second."""

    async def scenario() -> int:
        log = await AuditLog.open(settings)
        durable = log.submit(event("req-0"))
        await asyncio.sleep(0)  # the flush that submit scheduled runs first in this turn
        assert log._live is not None and log._live.transport is not None
        held = log._live.transport.get_write_buffer_size()
        await durable
        await log.close()
        return held

    assert uvloop.run(scenario()) == 0


async def test_concurrent_appends_get_distinct_consecutive_seqs(settings: AuditSettings) -> None:
    assert sorted(await write(settings, 50)) == list(range(50))


async def test_a_submitted_record_is_written_even_if_its_waiter_gives_up(
    settings: AuditSettings,
) -> None:
    # The pipeline awaits the future without a shield: a request cancelled while its
    # record is being made durable must not lose the record.
    log = await AuditLog.open(settings)
    waiting = log.submit(event("left-early"))
    waiting.cancel()
    await log.close()
    ids = [record.event["request_id"] for _, record in iter_records(settings.dir)]
    assert ids == ["left-early"]
    verify_log(settings.dir, [public_key(settings)])


async def test_each_seq_names_the_record_of_its_event(settings: AuditSettings) -> None:
    log = await AuditLog.open(settings)
    seq = await log.append(event("only-me"))
    await log.close()
    records = dict((record.seq, record) for _, record in iter_records(settings.dir))
    assert records[seq].event["request_id"] == "only-me"


async def test_written_log_verifies_with_the_public_key(settings: AuditSettings) -> None:
    await write(settings, 20)
    report = verify_log(settings.dir, [public_key(settings)])
    assert report.records == 20


async def test_floats_in_events_survive_canonicalisation(settings: AuditSettings) -> None:
    log = await AuditLog.open(settings)
    await log.append(event("f", attempts=[{"latency_ms": 12.3}, {"latency_ms": 1e-7}]))
    await log.close()
    ((_, record),) = iter_records(settings.dir)
    assert record.event["attempts"] == [{"latency_ms": 12.3}, {"latency_ms": 1e-7}]
    verify_log(settings.dir, [public_key(settings)])


async def test_close_writes_a_checkpoint_over_every_record(settings: AuditSettings) -> None:
    await write(settings, 7)
    assert list_checkpoint_sizes(settings.dir) == [7]


async def test_a_checkpoint_is_written_every_n_records(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"checkpoint_every_records": 5, "fsync": "every_record"})
    log = await AuditLog.open(settings)
    for i in range(12):
        await log.append(event(f"r{i}"))
    await log.close()
    assert list_checkpoint_sizes(settings.dir)[:2] == [5, 10]


async def test_an_idle_log_checkpoints_after_the_interval(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"checkpoint_every_seconds": 0.05})
    log = await AuditLog.open(settings)
    await log.append(event("r"))
    for _ in range(200):
        if list_checkpoint_sizes(settings.dir):
            break
        await asyncio.sleep(0.01)
    sizes = list_checkpoint_sizes(settings.dir)
    await log.close()
    assert sizes == [1]


async def test_checkpoint_root_is_the_merkle_root_of_the_records(settings: AuditSettings) -> None:
    await write(settings, 9)
    leaves = [record.leaf_hash for _, record in iter_records(settings.dir)]
    note = (settings.dir / "checkpoints" / f"{9:020d}.note").read_bytes()
    checkpoint = open_checkpoint(note, [public_key(settings)])
    assert (checkpoint.origin, checkpoint.size) == (settings.origin, 9)
    assert checkpoint.root_hash == tree_root(leaves)


async def test_segments_rotate_by_size_and_the_chain_crosses_them(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"segment_max_bytes": 2000, "fsync": "every_record"})
    log = await AuditLog.open(settings)
    for i in range(30):
        await log.append(event(f"r{i}"))
    await log.close()
    report = verify_log(settings.dir, [public_key(settings)])
    assert report.segments > 3
    assert all(path.stat().st_size <= 2000 for path in settings.dir.glob("segment-*.jsonl"))


async def test_reopening_continues_the_sequence(settings: AuditSettings) -> None:
    await write(settings, 3, "first")
    assert await write(settings, 2, "second") == [3, 4]
    assert verify_log(settings.dir, [public_key(settings)]).records == 5


async def test_torn_tail_is_cut_and_a_recovery_record_appended(settings: AuditSettings) -> None:
    await write(settings, 4)
    segment = settings.dir / "segment-00000001.jsonl"
    with segment.open("ab") as handle:
        handle.write(b'{"at":"2026-01-01T00:00:00Z","event":{"request_id":"torn')
    with capture_logs() as logs:
        log = await AuditLog.open(settings)
    await log.close()
    records = [record for _, record in iter_records(settings.dir)]
    assert [r.kind for r in records] == ["request"] * 4 + ["recovery"]
    assert records[-1].event["cut_bytes"] == 56
    assert any(entry["event"] == "audit_torn_tail_cut" for entry in logs)
    verify_log(settings.dir, [public_key(settings)])


async def test_damage_before_the_tail_refuses_to_open(settings: AuditSettings) -> None:
    await write(settings, 3)
    segment = settings.dir / "segment-00000001.jsonl"
    lines = segment.read_bytes().splitlines(keepends=True)
    segment.write_bytes(lines[0] + lines[2])
    with pytest.raises(LogCorrupted, match=r"segment-00000001\.jsonl:2"):
        await AuditLog.open(settings)


async def test_a_group_readable_signing_key_is_refused(settings: AuditSettings) -> None:
    os.chmod(settings.signing_key_file, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        await AuditLog.open(settings)


async def test_a_non_json_event_fails_alone(settings: AuditSettings) -> None:
    log = await AuditLog.open(settings)
    with pytest.raises(AuditError, match="canonicalised"):
        await log.append({"request_id": "bad", "value": {1, 2}})
    with pytest.raises(AuditError, match="canonicalised"):
        await log.append({"request_id": "bad", "value": 2**53})  # beyond RFC 8785's integers
    assert await log.append(event("good")) == 0
    await log.close()


async def test_a_non_finite_float_is_recorded_as_null_as_json_stringify_does(
    settings: AuditSettings,
) -> None:
    log = await AuditLog.open(settings)
    await log.append(event("nan", value=float("nan"), limit=float("inf")))
    await log.close()
    ((_, record),) = iter_records(settings.dir)
    assert record.event["value"] is None and record.event["limit"] is None
    verify_log(settings.dir, [public_key(settings)])


async def test_append_after_close_is_refused(settings: AuditSettings) -> None:
    log = await AuditLog.open(settings)
    await log.close()
    with pytest.raises(AuditUnavailable):
        await log.append(event("late"))


async def test_records_hold_the_event_fields_and_chain_fields(settings: AuditSettings) -> None:
    await write(settings, 2)
    lines = (settings.dir / "segment-00000001.jsonl").read_bytes().splitlines()
    record = orjson.loads(lines[1])
    assert sorted(record) == ["at", "event", "kid", "kind", "prev", "seq", "sig"]
    assert record["at"].endswith("Z")
    assert len(record["kid"]) == 16


def test_settings_reject_unknown_fields(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extra"):
        AuditSettings.model_validate(
            {"dir": tmp_path, "signing_key_file": tmp_path / "k", "fsync_mode": "batch"}
        )


async def test_an_acknowledged_record_is_already_in_the_segment_file(
    settings: AuditSettings,
) -> None:
    log = await AuditLog.open(settings)
    seq = await log.append(event("visible"))
    on_disk = (settings.dir / "segment-00000001.jsonl").read_bytes().splitlines()
    await log.close()
    assert orjson.loads(on_disk[seq])["event"]["request_id"] == "visible"


async def test_a_crash_right_after_rotation_reopens_on_the_empty_segment(
    settings: AuditSettings,
) -> None:
    await write(settings, 3)
    (settings.dir / "segment-00000002.jsonl").touch()
    assert await write(settings, 1, "after") == [3]
    report = verify_log(settings.dir, [public_key(settings)])
    assert (report.records, report.segments) == (4, 2)


async def test_a_missing_middle_segment_refuses_to_open(settings: AuditSettings) -> None:
    await write(settings, 1)
    (settings.dir / "segment-00000003.jsonl").touch()
    with pytest.raises(LogCorrupted, match="segment 00000002 is missing"):
        await AuditLog.open(settings)


async def test_a_lone_record_does_not_wait_out_the_batch_window(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"batch_interval_ms": 5000.0})
    log = await AuditLog.open(settings)
    started = time.monotonic()
    await log.append(event("alone"))
    elapsed = time.monotonic() - started
    await log.close()
    assert elapsed < 2.5


async def test_a_second_writer_on_the_same_directory_is_refused(settings: AuditSettings) -> None:
    log = await AuditLog.open(settings)
    with pytest.raises(LogLocked):
        await AuditLog.open(settings)
    await log.close()
    second = await AuditLog.open(settings)  # the lock goes with the first writer
    await second.close()


def test_a_record_with_a_malformed_timestamp_is_rejected() -> None:
    signer = RecordSigner(Ed25519PrivateKey.generate())
    line = signer.seal(seq=0, prev="0" * 64, at="yesterday", kind="request", event={})
    with pytest.raises(RecordError, match="not an ISO 8601 UTC timestamp"):
        parse_record(line)
