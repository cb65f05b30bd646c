"""The zero tail: records are written over zeros kept ahead of them in the live segment.

Readers take a NUL run after the last complete line as the end of the data; recovery
trims it without a recovery record; rotation and close leave none behind. A NUL
anywhere else is still damage.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from policy_engine.audit import (
    AuditLog,
    AuditSettings,
    LogCorrupted,
    VerificationFailure,
    iter_records,
    load_public_key,
    prove_request,
    verify_log,
)

PREZERO = 64 * 1024
FIRST = "segment-00000001.jsonl"


def event(request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "tenant": "acme-eu", "outcome": "answered"}


def public_key(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


def records_end(path: Path) -> int:
    return len(path.read_bytes().rstrip(b"\0"))


@pytest.fixture
def settings(settings: AuditSettings) -> AuditSettings:
    return settings.model_copy(update={"prezero_bytes": PREZERO, "checkpoint_every_records": 4})


@pytest.fixture
async def live(settings: AuditSettings) -> AsyncIterator[AuditLog]:
    """An open log holding 6 records (one checkpoint over the first 4)."""
    log = await AuditLog.open(settings)
    for i in range(6):
        await log.append(event(f"req-{i}"))
    yield log
    await log.close()


def crashed_copy(settings: AuditSettings, tmp_path: Path) -> AuditSettings:
    """The live log's directory as a crash would leave it: zero tail and all."""
    copy = tmp_path / "crashed"
    shutil.copytree(settings.dir, copy)
    return settings.model_copy(update={"dir": copy})


async def reopen(settings: AuditSettings) -> list[str]:
    log = await AuditLog.open(settings)
    await log.close()
    return [record.kind for _, record in iter_records(settings.dir)]


async def test_a_live_segment_ends_in_zeros_ahead_of_its_records(
    settings: AuditSettings, live: AuditLog
) -> None:
    segment = settings.dir / FIRST
    data = segment.read_bytes()
    end = records_end(segment)
    assert data[end - 1 : end] == b"\n"
    assert PREZERO // 2 <= len(data) - end <= PREZERO + PREZERO // 2


async def test_a_live_log_with_a_zero_tail_verifies(
    settings: AuditSettings, live: AuditLog
) -> None:
    assert verify_log(settings.dir, [public_key(settings)]).records == 6


async def test_records_and_proofs_read_from_a_live_log(
    settings: AuditSettings, live: AuditLog
) -> None:
    assert [record.seq for _, record in iter_records(settings.dir)] == list(range(6))
    assert prove_request(settings.dir, "req-2").leaf_index == 2


async def test_a_partial_line_before_the_zeros_is_reported_as_torn(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    crashed = crashed_copy(settings, tmp_path)
    segment = crashed.dir / FIRST
    with segment.open("r+b") as handle:
        handle.seek(records_end(segment))
        handle.write(b'{"at":"2026-01-01T00:00:00Z","event":{"request_id":"torn')
    with pytest.raises(VerificationFailure, match="incomplete last line"):
        verify_log(crashed.dir, [public_key(settings)])


@pytest.mark.parametrize("where", ["inside a record", "a line of its own"])
async def test_nuls_before_the_last_record_are_reported(
    settings: AuditSettings, live: AuditLog, tmp_path: Path, where: str
) -> None:
    crashed = crashed_copy(settings, tmp_path)
    segment = crashed.dir / FIRST
    lines = segment.read_bytes().split(b"\n")
    if where == "inside a record":
        lines[2] = lines[2][:10] + b"\0" + lines[2][11:]
    else:
        lines.insert(2, b"\0" * 16)
    segment.write_bytes(b"\n".join(lines))
    with pytest.raises(VerificationFailure) as caught:
        verify_log(crashed.dir, [public_key(settings)])
    assert caught.value.where == f"{FIRST} line 3 (seq 2)"
    assert "not valid JSON" in caught.value.reason


async def test_a_crash_with_a_zero_tail_recovers_without_a_recovery_record(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    crashed = crashed_copy(settings, tmp_path)
    end = records_end(crashed.dir / FIRST)
    log = await AuditLog.open(crashed)
    assert await log.append(event("after")) == 6
    await log.close()
    assert [record.kind for _, record in iter_records(crashed.dir)] == ["request"] * 7
    assert (crashed.dir / FIRST).read_bytes()[:end] == (settings.dir / FIRST).read_bytes()[:end]
    verify_log(crashed.dir, [public_key(settings)])


async def test_a_torn_line_over_the_zeros_is_cut_with_a_recovery_record(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    crashed = crashed_copy(settings, tmp_path)
    segment = crashed.dir / FIRST
    with segment.open("r+b") as handle:
        handle.seek(records_end(segment))
        handle.write(b'{"at":"2026-01-01T00:00:00Z","event":{"request_id":"torn')
    assert await reopen(crashed) == ["request"] * 6 + ["recovery"]
    recovery = [record for _, record in iter_records(crashed.dir)][-1]
    assert recovery.event["cut_bytes"] == 56  # the torn line, not the padding after it
    verify_log(crashed.dir, [public_key(settings)])


async def test_a_batch_torn_page_by_page_is_cut_with_a_recovery_record(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    # A power cut can persist a later page of the last batch but not an earlier one:
    # a line with a hole of NULs, then whole lines of the same, unacknowledged batch.
    crashed = crashed_copy(settings, tmp_path)
    segment = crashed.dir / FIRST
    lines = segment.read_bytes().rstrip(b"\0").split(b"\n")[:-1]
    torn = lines[4][:20] + b"\0" * 40 + lines[4][60:]
    kept = b"".join(line + b"\n" for line in lines[:4])
    segment.write_bytes(kept + torn + b"\n" + lines[5] + b"\n" + b"\0" * 4096)
    assert await reopen(crashed) == ["request"] * 4 + ["recovery"]
    verify_log(crashed.dir, [public_key(settings)])


def hole_in_record(directory: Path, index: int) -> None:
    segment = directory / FIRST
    lines = segment.read_bytes().split(b"\n")
    lines[index] = lines[index][:10] + b"\0" + lines[index][11:]
    segment.write_bytes(b"\n".join(lines))


async def test_a_hole_under_a_checkpoint_refuses_to_open_when_the_log_is_read_whole(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    # Checkpoints cover only durable records: NULs below one are damage, not a tear.
    # Without resume files, start-up reads the whole log and finds it.
    crashed = crashed_copy(settings, tmp_path)
    for path in (crashed.dir / "checkpoints").glob("*.resume"):
        path.unlink()
    hole_in_record(crashed.dir, 2)
    with pytest.raises(LogCorrupted, match=rf"{FIRST}:3: damaged, and checkpoint 4"):
        await AuditLog.open(crashed)


async def test_a_hole_under_a_checkpoint_is_left_to_verify_by_a_resumed_start(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    # Start-up reads only the tail after the latest checkpoint, so it cannot see damage
    # under it; it leaves those bytes alone, and verify names the record.
    crashed = crashed_copy(settings, tmp_path)
    hole_in_record(crashed.dir, 2)
    log = await AuditLog.open(crashed)
    assert await log.append(event("after")) == 6
    await log.close()
    with pytest.raises(VerificationFailure) as caught:
        verify_log(crashed.dir, [public_key(settings)])
    assert caught.value.where == f"{FIRST} line 3 (seq 2)"


async def test_a_zero_tail_left_on_an_earlier_segment_is_trimmed_silently(
    settings: AuditSettings,
) -> None:
    # As if a crash came right after rotation, before the trim reached the disk.
    settings = settings.model_copy(update={"segment_max_bytes": 1100})
    log = await AuditLog.open(settings)
    for i in range(6):
        await log.append(event(f"req-{i}"))
    await log.close()
    first = settings.dir / FIRST
    size = first.stat().st_size
    with first.open("ab") as handle:
        handle.write(b"\0" * 300)
    verify_log(settings.dir, [public_key(settings)])
    assert await reopen(settings) == ["request"] * 6
    assert first.stat().st_size == size


async def test_rotation_and_close_leave_no_zero_tail(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"segment_max_bytes": 2000})
    log = await AuditLog.open(settings)
    for i in range(24):
        await log.append(event(f"req-{i}"))
    segments = sorted(settings.dir.glob("segment-*.jsonl"))
    rotated = [path.read_bytes() for path in segments[:-1]]
    live_size = segments[-1].stat().st_size
    await log.close()
    assert len(segments) >= 3
    assert all(data.endswith(b"\n") and b"\0" not in data for data in rotated)
    assert live_size == 2000  # zeros never run past the rotation size
    closed = [path.read_bytes() for path in sorted(settings.dir.glob("segment-*.jsonl"))]
    assert all(data.endswith(b"\n") and b"\0" not in data for data in closed)


async def test_prezero_off_writes_no_zeros(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"prezero_bytes": 0})
    log = await AuditLog.open(settings)
    await log.append(event("req"))
    data = (settings.dir / FIRST).read_bytes()
    await log.close()
    assert data.endswith(b"\n") and b"\0" not in data
