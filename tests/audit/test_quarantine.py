"""Recovery never deletes durable bytes: a torn or damaged tail is moved to a quarantine
file that the signed recovery record names and hashes, and verify checks and reports it."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from policy_engine.audit import (
    AuditLog,
    AuditSettings,
    Quarantined,
    VerificationFailure,
    iter_records,
    load_public_key,
    verify_log,
)
from policy_engine.audit._quarantine import quarantine

FIRST = "segment-00000001.jsonl"


def event(request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "tenant": "acme-eu", "outcome": "answered"}


def public_key(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


@pytest.fixture
def settings(settings: AuditSettings) -> AuditSettings:
    # No checkpoint but the one at 5 while the test copies the live directory.
    return settings.model_copy(
        update={
            "checkpoint_every_records": 5,
            "checkpoint_every_seconds": 3600.0,
            "fsync": "every_record",
        }
    )


@pytest.fixture
async def live(settings: AuditSettings) -> AsyncIterator[AuditLog]:
    """An open log of 9 acknowledged records, a checkpoint over the first 5."""
    log = await AuditLog.open(settings)
    for i in range(9):
        await log.append(event(f"req-{i}"))
    yield log
    await log.close()


def crashed(settings: AuditSettings, tmp_path: Path) -> AuditSettings:
    """The live log's directory as a kill -9 would leave it."""
    copy = tmp_path / "crashed"
    shutil.copytree(settings.dir, copy, ignore=shutil.ignore_patterns("*.tmp"))
    return settings.model_copy(update={"dir": copy})


def zero_one_byte(segment: Path, seq: int) -> bytes:
    """Zero one byte inside record `seq`; the segment's data (zero tail aside) after it."""
    data = segment.read_bytes()
    lines = data.rstrip(b"\0").split(b"\n")
    start = sum(len(line) + 1 for line in lines[:seq])
    damaged = data[: start + 30] + b"\0" + data[start + 31 :]
    segment.write_bytes(damaged)
    return damaged.rstrip(b"\0")


async def reopen(settings: AuditSettings) -> list[MutableMapping[str, Any]]:
    with capture_logs() as logs:
        log = await AuditLog.open(settings)
        await log.close()
    return logs


async def test_a_zeroed_byte_after_the_last_checkpoint_cuts_nothing_durable(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    # The reviewer's case: records 5-8 were acknowledged (durable) when one byte of
    # record 5 was zeroed; a restart used to cut all four and verify then passed.
    copy = crashed(settings, tmp_path)
    segment = copy.dir / FIRST
    damaged = zero_one_byte(segment, 5)
    await reopen(copy)
    records = [record for _, record in iter_records(copy.dir)]
    assert [record.kind for record in records] == ["request"] * 5 + ["recovery"]
    cut = records[5].event
    kept = (copy.dir / cut["quarantine"]).read_bytes()
    # Every byte is still on disk: the segment up to the cut, then the quarantine file.
    assert segment.read_bytes()[: cut["offset"]] + kept == damaged
    assert (cut["cut_bytes"], cut["cut_lines"]) == (len(kept), 4)
    assert cut["cut_sha256"] == hashlib.sha256(kept).hexdigest()


async def test_verify_reports_the_quarantined_tail_and_the_signed_records_in_it(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    copy = crashed(settings, tmp_path)
    zero_one_byte(copy.dir / FIRST, 5)
    await reopen(copy)
    report = verify_log(copy.dir, [public_key(settings)])
    ((item),) = report.quarantined
    assert isinstance(item, Quarantined)
    assert (item.recovery_seq, item.records) == (5, (6, 7, 8))  # record 5 is the damaged one
    assert item.file is not None and item.file.startswith("quarantine/")


async def test_a_quarantine_file_changed_afterwards_fails_verify(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    copy = crashed(settings, tmp_path)
    zero_one_byte(copy.dir / FIRST, 5)
    await reopen(copy)
    (path,) = (copy.dir / "quarantine").iterdir()
    path.write_bytes(path.read_bytes().replace(b"req-6", b"req-9"))
    with pytest.raises(VerificationFailure, match="the recovery record says") as caught:
        verify_log(copy.dir, [public_key(settings)])
    assert caught.value.where.endswith("(seq 5)")


async def test_a_deleted_quarantine_file_fails_verify(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    copy = crashed(settings, tmp_path)
    zero_one_byte(copy.dir / FIRST, 5)
    await reopen(copy)
    shutil.rmtree(copy.dir / "quarantine")
    with pytest.raises(VerificationFailure, match=r"quarantine file .* is missing"):
        verify_log(copy.dir, [public_key(settings)])


async def test_a_quarantine_file_no_record_names_fails_verify(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    copy = crashed(settings, tmp_path)
    await reopen(copy)
    name = quarantine(copy.dir, 3, b"planted\n")
    with pytest.raises(VerificationFailure, match="no recovery record accounts") as caught:
        verify_log(copy.dir, [public_key(settings)])
    assert caught.value.where == name


async def test_a_crash_between_quarantine_and_its_record_gets_the_record_at_restart(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    # As if the previous start moved a tail aside, cut the segment, and died before
    # its recovery record was durable.
    copy = crashed(settings, tmp_path)
    await reopen(copy)  # a clean start: 9 records and a checkpoint over them
    name = quarantine(copy.dir, 9, b'{"torn":\n')
    logs = await reopen(copy)
    records = [record for _, record in iter_records(copy.dir)]
    assert records[-1].kind == "recovery"
    assert records[-1].event["quarantine"] == name
    assert any(entry["event"] == "audit_torn_tail_cut" for entry in logs)
    assert len(verify_log(copy.dir, [public_key(settings)]).quarantined) == 1


async def test_a_crash_after_quarantine_but_before_the_cut_reuses_the_same_file(
    settings: AuditSettings, live: AuditLog, tmp_path: Path
) -> None:
    # As if the previous start wrote the quarantine file and died before cutting.
    copy = crashed(settings, tmp_path)
    damaged = zero_one_byte(copy.dir / FIRST, 7)
    offset = sum(len(line) + 1 for line in damaged.split(b"\n")[:7])
    name = quarantine(copy.dir, 7, damaged[offset:])
    await reopen(copy)
    assert [path.name for path in (copy.dir / "quarantine").iterdir()] == [Path(name).name]
    (item,) = verify_log(copy.dir, [public_key(settings)]).quarantined
    assert (item.file, item.recovery_seq) == (name, 7)
