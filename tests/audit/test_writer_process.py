"""The writer runs in its own process: what the sidecar sees when it ends, is signalled,
or outlives its sidecar."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from policy_engine.audit import (
    UNRECORDED,
    AuditLog,
    AuditSettings,
    AuditUnavailable,
    LogLocked,
    iter_records,
    verify_log,
)
from tests.audit.test_log import event, list_checkpoint_sizes, public_key

CHILD = Path(__file__).with_name("_child.py")


async def wait_until(log: AuditLog, *, healthy: bool) -> None:
    for _ in range(1000):
        if log.healthy is healthy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the log never reported healthy={healthy}")


async def test_a_killed_writer_fails_records_closed_until_it_is_restarted(
    settings: AuditSettings,
) -> None:
    log = await AuditLog.open(settings)
    assert await log.append(event("before")) == 0
    killed = log.writer_pid
    with capture_logs() as logs:
        os.kill(killed, signal.SIGKILL)
        await wait_until(log, healthy=False)
        with pytest.raises(AuditUnavailable, match="not running"):
            await log.append(event("while-down"))
        await wait_until(log, healthy=True)
    assert log.writer_pid != killed
    assert await log.append(event("after")) == 1
    await log.close()
    assert [entry["event"] for entry in logs if entry["event"].startswith("audit_writer")] == [
        "audit_writer_exited",
        "audit_writer_restarted",
    ]
    assert [record.event["request_id"] for _, record in iter_records(settings.dir)] == [
        "before",
        "after",
    ]
    verify_log(settings.dir, [public_key(settings)])


async def test_while_the_writer_is_down_fail_open_leaves_records_unrecorded(
    settings: AuditSettings,
) -> None:
    log = await AuditLog.open(settings.model_copy(update={"on_failure": "fail_open"}))
    os.kill(log.writer_pid, signal.SIGKILL)
    await wait_until(log, healthy=False)
    assert await log.append(event("while-down")) == UNRECORDED
    await log.close()


async def test_closing_while_the_writer_restarts_leaves_no_process_behind(
    settings: AuditSettings,
) -> None:
    log = await AuditLog.open(settings)
    os.kill(log.writer_pid, signal.SIGKILL)
    await wait_until(log, healthy=False)
    await log.close()
    reopened = await AuditLog.open(settings)  # the directory lock is free again
    await reopened.close()


async def test_the_writer_ignores_sigint_and_sigterm_and_stops_when_closed(
    settings: AuditSettings,
) -> None:
    """A Ctrl-C or a SIGTERM to the whole process group must not cut the final checkpoint."""
    log = await AuditLog.open(settings)
    await log.append(event("first"))
    os.kill(log.writer_pid, signal.SIGINT)
    os.kill(log.writer_pid, signal.SIGTERM)
    assert await log.append(event("second")) == 1
    await log.close()
    assert list_checkpoint_sizes(settings.dir) == [2]
    verify_log(settings.dir, [public_key(settings)])


async def test_the_writer_dies_with_its_sidecar_and_releases_the_directory(
    settings: AuditSettings,
) -> None:
    child = await asyncio.create_subprocess_exec(
        *(sys.executable, str(CHILD), "crash"),
        *(str(settings.dir), str(settings.signing_key_file), "t"),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    await child.stdout.readline()  # one record acknowledged: the writer is up
    child.kill()
    await child.wait()
    # The directory lock is held by the writer too: opening succeeds once it is gone.
    for _ in range(100):
        try:
            log = await AuditLog.open(settings)
            break
        except LogLocked:  # until the kernel has killed the writer
            await asyncio.sleep(0.05)
    else:
        raise AssertionError("the writer outlived its sidecar")
    await log.close()
    verify_log(settings.dir, [public_key(settings)])
