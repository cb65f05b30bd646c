"""Durability in real processes: kill -9 mid-stream loses no acknowledged record;
a full disk fails appends closed (or open, if configured) and turns `healthy` off."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from pathlib import Path

from policy_engine.audit import (
    UNRECORDED,
    AuditLog,
    AuditSettings,
    iter_records,
    load_public_key,
    verify_log,
)

CHILD = Path(__file__).with_name("_child.py")
TRIALS = 3


def spawn(*args: str, stderr: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=stderr, text=True
    )


def crash_once(settings: AuditSettings, trial: int, rng: random.Random) -> dict[int, str]:
    """Run the child, kill -9 it after a random number of acks; return every ack it printed."""
    child = spawn("crash", str(settings.dir), str(settings.signing_key_file), f"t{trial}")
    assert child.stdout is not None
    target = rng.randint(1, 400)
    acked: dict[int, str] = {}
    try:
        for line in child.stdout:
            seq, request_id = line.split()
            acked[int(seq)] = request_id
            if len(acked) >= target:
                child.kill()
                break
        acked.update((int(seq), request_id) for seq, request_id in map(str.split, child.stdout))
    finally:
        child.kill()
        child.wait(timeout=10)
    assert acked, "the child acknowledged nothing before it died"
    return acked


async def reopen(settings: AuditSettings) -> None:
    log = await AuditLog.open(settings)
    await log.close()


def test_kill_9_at_random_moments_loses_no_acknowledged_record(settings: AuditSettings) -> None:
    rng = random.Random()
    public = load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))
    acked: dict[int, str] = {}
    for trial in range(TRIALS):
        acked.update(crash_once(settings, trial, rng))
        if trial % 2:
            # As if power failed mid-write too: a partial, unacknowledged line at the end.
            last = sorted(settings.dir.glob("segment-*.jsonl"))[-1]
            with last.open("ab") as handle:
                handle.write(b'{"at":"2026-01-01T00:00:00Z","event":{"request_id":"to')
        asyncio.run(reopen(settings))
        verify_log(settings.dir, [public])
    recorded = {
        record.seq: record.event.get("request_id") for _, record in iter_records(settings.dir)
    }
    missing = {seq: rid for seq, rid in acked.items() if recorded.get(seq) != rid}
    assert not missing
    recoveries = [record for _, record in iter_records(settings.dir) if record.kind == "recovery"]
    assert len(recoveries) == TRIALS // 2


def run_disk_full_logged(
    settings: AuditSettings, on_failure: str, *prezero_bytes: str
) -> tuple[list[dict[str, object]], str]:
    child = spawn(
        "disk-full",
        str(settings.dir),
        str(settings.signing_key_file),
        on_failure,
        *prezero_bytes,
        stderr=subprocess.PIPE,
    )
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()], err


def run_disk_full(settings: AuditSettings, on_failure: str) -> list[dict[str, object]]:
    return run_disk_full_logged(settings, on_failure)[0]


def test_a_full_disk_fails_appends_closed_and_marks_the_log_unhealthy(
    settings: AuditSettings,
) -> None:
    steps = run_disk_full(settings, "fail_closed")
    refused = [step for step in steps if step["step"] == "refused"]
    assert refused
    assert refused[0]["healthy"] is False
    assert "not durable" in str(refused[0]["error"])


def test_the_log_is_healthy_again_once_a_write_succeeds(settings: AuditSettings) -> None:
    steps = run_disk_full(settings, "fail_closed")
    assert steps[-1]["step"] == "recovered"
    assert steps[-1]["healthy"] is True


def test_a_full_disk_leaves_no_partial_record_behind(settings: AuditSettings) -> None:
    steps = run_disk_full(settings, "fail_closed")
    public = load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))
    report = verify_log(settings.dir, [public])
    appended = [step for step in steps if step["step"] == "appended"]
    assert report.records == 1 + len(appended) + 1  # before, those that fit, after


def test_fail_open_returns_unrecorded_instead_of_raising(settings: AuditSettings) -> None:
    steps = run_disk_full(settings, "fail_open")
    dropped = [step for step in steps if step["step"] == "appended" and step["seq"] == UNRECORDED]
    assert dropped
    assert dropped[0]["healthy"] is False


def test_a_failed_write_logs_a_clear_error_line(settings: AuditSettings) -> None:
    _, logged = run_disk_full_logged(settings, "fail_closed")
    failure = next(line for line in logged.splitlines() if "audit_write_failed" in line)
    assert "File too large" in failure
    assert "fail_closed" in failure


def test_a_full_disk_while_pre_zeroing_only_costs_the_speed_up(settings: AuditSettings) -> None:
    # 1 KiB of zeros ahead: the first record after the cap fits in them, the zeros
    # that should follow it do not, nor does the next record.
    steps, logged = run_disk_full_logged(settings, "fail_closed", "1024")
    public = load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))
    report = verify_log(settings.dir, [public])
    assert "audit_prezero_failed" in logged
    assert [step["step"] for step in steps] == ["appended", "refused", "recovered"]
    assert steps[0]["healthy"] is True
    assert report.records == 3
    assert b"\0" not in (settings.dir / "segment-00000001.jsonl").read_bytes()
