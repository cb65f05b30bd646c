"""Audit faults through the real sidecar: a full or read-only disk under the audit log.

A tiny tmpfs mounted on the audit directory (we run as root; skipped elsewhere) fills
up after a few dozen records. Fail-closed: nothing is answered without its record,
`/readyz` turns red and one log line says why. Fail-open: answers go on, unrecorded,
and `/readyz` says so. The log written before the fault still verifies, while the
sidecar runs and after it stops.
"""

from __future__ import annotations

import errno
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.fakes import FakeProvider
from tests.reliability._support import REDACTED_VALUES as PII
from tests.reliability._support import Answer, ask, hits
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

TMPFS_BYTES = 64 * 1024
MAX_REQUESTS = 400  # a 64 KiB disk holds far fewer records than this


def mount(*arguments: str) -> bool:
    return subprocess.run(["mount", *arguments], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "audit"
    directory.mkdir()
    if not mount("-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(directory)):
        pytest.skip("needs root to mount a tmpfs for the disk-full fault")
    yield directory
    # Lazy: a sidecar that failed to stop may still hold a segment open.
    subprocess.run(["umount", "-l", str(directory)], check=True)


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as provider:
        yield provider


async def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider, on_failure: str
) -> RunningSidecar:
    settings = build_settings(
        tmp_path,
        [ProviderSpec("alpha", fake, attributes={"residency": "eu"})],
        audit={"on_failure": on_failure, "checkpoint_every_records": 10},
    )
    return await start_sidecar(settings, monkeypatch)


async def until_refused(http: httpx.AsyncClient) -> list[Answer]:
    answers: list[Answer] = []
    while not answers or answers[-1].status == 200:
        assert len(answers) < MAX_REQUESTS, "the full disk never refused a request"
        answers.append(await ask(http, stream=False))
    return answers


async def readiness(http: httpx.AsyncClient) -> tuple[int, bool]:
    response = await http.get("/readyz")
    return response.status_code, response.json()["audit"]


def recorded_ids(running: RunningSidecar) -> list[str]:
    return [event["request_id"] for event in running.audit_events()]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_full_disk_fails_closed_and_every_answer_has_its_record(
    tmp_path: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProvider,
    logs: list[dict[str, Any]],
    stream: bool,
) -> None:
    running = await serve(tmp_path, monkeypatch, fake, "fail_closed")
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            assert await readiness(http) == (200, True)
            answers = await until_refused(http)
            refused = answers[-1]
            late = await ask(http, stream)

            assert refused.status == 503
            assert (
                refused.error is not None
                and "audit log is unavailable" in (refused.error["message"])
            )
            if stream:
                # The 200 and the content went out before the end; the clean end waits
                # for the record, so the stream ends with an error event, not [DONE].
                assert late.status == 200 and late.stream_failed
                assert b"[DONE]" not in late.body
            else:
                assert late.status == 503
            assert await readiness(http) == (503, False)
            counted = (await http.get("/metrics")).text
        served = [a.headers["x-request-id"] for a in answers if a.status == 200]
        assert served and set(served) <= set(recorded_ids(running))
        failures = [line for line in logs if line["event"] == "audit_write_failed"]
        assert failures and failures[0]["errno"] == errno.ENOSPC
        # The request's log line says what the client got, not what it would have got.
        lines = {line["request_id"]: line for line in logs if line["event"] == "request"}
        refused_line = lines[refused.headers["x-request-id"]]
        assert (refused_line["outcome"], refused_line["status"]) == ("audit_failed", 503)
        assert 'policy_engine_requests_total{outcome="audit_failed",protocol="openai"}' in counted
        assert hits(PII, [("logs", repr(logs).encode())]) == []
        running.verify_audit()
        await running.stop()
        running.verify_audit()
    finally:
        await running.stop()


async def test_fail_open_keeps_answering_without_records_and_reports_not_ready(
    tmp_path: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProvider,
    logs: list[dict[str, Any]],
) -> None:
    running = await serve(tmp_path, monkeypatch, fake, "fail_open")
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            answers: list[Answer] = []
            while not any(line["event"] == "audit_write_failed" for line in logs):
                assert len(answers) < MAX_REQUESTS, "the full disk never failed a write"
                answers.append(await ask(http, stream=len(answers) % 2 == 1))
            answers += [await ask(http, stream=n % 2 == 1) for n in range(4)]

            assert [a.status for a in answers] == [200] * len(answers)
            assert await readiness(http) == (503, False)
        assert len(recorded_ids(running)) < len(answers)
        running.verify_audit()
    finally:
        await running.stop()
