"""Start-up resumes from the latest checkpoint: its resume file (the compact range and
where its last record ends) is checked, then only the records after it are read."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from policy_engine.audit import (
    AuditLog,
    AuditSettings,
    iter_records,
    load_public_key,
    open_checkpoint,
    verify_log,
)
from policy_engine.audit._resume import ResumePoint
from tests.audit._writing import Logged, append, open_writer, outcome

SEGMENT = 1500  # bytes: a few records per segment


def public_key(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


def requests(count: int, prefix: str = "req") -> list[tuple[str, dict[str, Any]]]:
    return [outcome(f"{prefix}-{i}", None) for i in range(count)]


def write(settings: AuditSettings, count: int, prefix: str = "req") -> None:
    with open_writer(settings) as writer:
        append(writer, requests(count, prefix))


def resume_file(settings: AuditSettings, size: int) -> Path:
    return settings.dir / "checkpoints" / f"{size:020d}.resume"


async def reopen_and_append(settings: AuditSettings, request_id: str) -> tuple[int, int]:
    """(the size start-up read from, the seq the next record took)."""
    with capture_logs() as logs:
        log = await AuditLog.open(settings)
        seq = await log.append({"request_id": request_id})
        await log.close()
    (opened,) = [entry for entry in logs if entry["event"] == "audit_log_opened"][:1]
    return opened["read_from"], seq


def test_each_checkpoint_has_a_resume_file_folding_to_its_root(settings: AuditSettings) -> None:
    settings = settings.model_copy(
        update={"checkpoint_every_records": 3, "segment_max_bytes": SEGMENT}
    )
    write(settings, 10)
    for size in (3, 6, 9, 10):
        note = (settings.dir / "checkpoints" / f"{size:020d}.note").read_bytes()
        point = ResumePoint.from_json(resume_file(settings, size).read_bytes())
        assert point.tree.root() == open_checkpoint(note, [public_key(settings)]).root_hash
        segment = settings.dir / f"segment-{point.segment:08d}.jsonl"
        last = segment.read_bytes()[: point.offset].splitlines()[-1]
        assert json.loads(last)["seq"] == size - 1


async def test_a_restart_reads_only_the_records_after_the_latest_checkpoint(
    settings: AuditSettings,
) -> None:
    settings = settings.model_copy(
        update={"checkpoint_every_records": 4, "segment_max_bytes": SEGMENT}
    )
    write(settings, 10)  # checkpoints 4, 8, and 10 at close
    assert await reopen_and_append(settings, "after") == (10, 10)
    assert verify_log(settings.dir, [public_key(settings)]).records == 11


async def test_a_resume_file_whose_range_is_wrong_is_ignored(settings: AuditSettings) -> None:
    settings = settings.model_copy(update={"checkpoint_every_records": 4})
    write(settings, 6)
    path = resume_file(settings, 6)
    data = json.loads(path.read_bytes())
    data["range"][0] = base64.b64encode(bytes(32)).decode()
    path.write_text(json.dumps(data))
    assert await reopen_and_append(settings, "after") == (4, 6)
    verify_log(settings.dir, [public_key(settings)])


async def test_a_resume_file_pointing_at_the_wrong_place_is_ignored(
    settings: AuditSettings,
) -> None:
    write(settings, 5)
    path = resume_file(settings, 5)
    data = json.loads(path.read_bytes())
    data["offset"] -= 1
    path.write_text(json.dumps(data))
    assert await reopen_and_append(settings, "after") == (0, 5)
    verify_log(settings.dir, [public_key(settings)])


async def test_without_resume_files_the_whole_log_is_read(settings: AuditSettings) -> None:
    write(settings, 5)
    for path in (settings.dir / "checkpoints").glob("*.resume"):
        path.unlink()
    assert await reopen_and_append(settings, "after") == (0, 5)


async def test_a_checkpoint_taken_right_after_rotation_resumes_in_the_previous_segment(
    settings: AuditSettings,
) -> None:
    with open_writer(settings) as writer:
        append(writer, requests(3))
        writer._rotate()  # as a batch that failed just after rotating would leave it
    assert ResumePoint.from_json(resume_file(settings, 3).read_bytes()).segment == 1
    assert await reopen_and_append(settings, "after") == (3, 3)
    assert [record.seq for _, record in iter_records(settings.dir)] == [0, 1, 2, 3]
    verify_log(settings.dir, [public_key(settings)])


def test_a_resume_file_that_cannot_be_written_does_not_stop_the_checkpoint(
    settings: AuditSettings,
) -> None:
    (settings.dir / "checkpoints" / f"{3:020d}.resume.tmp").mkdir(parents=True)
    logged: Logged = []
    with open_writer(settings, logged) as writer:
        append(writer, requests(3))
    assert (settings.dir / "checkpoints" / f"{3:020d}.note").is_file()
    assert not resume_file(settings, 3).exists()
    assert [event for _, event, _ in logged] == ["audit_resume_file_failed"]
    verify_log(settings.dir, [public_key(settings)])
