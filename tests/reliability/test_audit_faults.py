"""Audit faults through the real sidecar: a disk under the audit log that fails writes.

Two real faults: a tiny tmpfs mounted on the audit directory (we run as root; skipped
elsewhere), which fills up after a few dozen records, and a file-size limit on the
writer process (RLIMIT_FSIZE), under which no write succeeds at all. Fail-closed: no
byte leaves for a provider unless the request's intent record is durable, nothing is
answered without its outcome record, `/readyz` turns red and one log line says why.
Fail-open: answers go on, unrecorded, and `/readyz` and a log line per request say so.
The log written before the fault still verifies, while the sidecar runs and after it
stops.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import resource
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from structlog.testing import capture_logs

from policy_engine.audit import AuditLog
from policy_engine.routing import CircuitState
from tests.fakes import FakeProvider, Unavailable
from tests.reliability._support import REDACTED_VALUES as PII
from tests.reliability._support import (
    Answer,
    answers_without_outcome,
    ask,
    hits,
    numbered,
    records,
    sends_without_intent,
)
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

TMPFS_BYTES = 64 * 1024
MAX_REQUESTS = 400  # a 64 KiB disk holds far fewer records than this
REFUSED = 3
CIRCUIT_OPEN_S = 0.05


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
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProvider,
    on_failure: str,
    routing: dict[str, Any] | None = None,
) -> RunningSidecar:
    settings = build_settings(
        tmp_path,
        [ProviderSpec("alpha", fake, attributes={"residency": "eu"})],
        audit={"on_failure": on_failure, "checkpoint_every_records": 10},
        routing=routing or {},
    )
    return await start_sidecar(settings, monkeypatch)


def limit_writer_file_size(running: RunningSidecar, size: int) -> None:
    """RLIMIT_FSIZE on the writer process: a write at or past `size` fails with EFBIG."""
    writer = cast(AuditLog, running.sidecar.audit).writer_pid
    resource.prlimit(writer, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))


async def until_refused(http: httpx.AsyncClient, numbers: Iterator[int]) -> list[Answer]:
    answers: list[Answer] = []
    while not answers or answers[-1].status == 200:
        assert len(answers) < MAX_REQUESTS, "the full disk never refused a request"
        answers.append(await ask(http, stream=False, prompt=numbered(next(numbers))))
    return answers


async def readiness(http: httpx.AsyncClient) -> tuple[int, bool]:
    response = await http.get("/readyz")
    return response.status_code, response.json()["audit"]


def complete(answer: Answer) -> bool:
    return answer.status == 200 and not answer.stream_failed


def request_ids(answers: list[Answer]) -> list[str]:
    return [answer.headers["x-request-id"] for answer in answers]


def audit_unavailable(answer: Answer) -> bool:
    return (
        answer.status == 503
        and answer.error is not None
        and answer.error["type"] == "api_error"
        and "audit log is unavailable" in answer.error["message"]
    )


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_full_disk_fails_closed_and_every_send_and_answer_has_its_records(
    tmp_path: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProvider,
    logs: list[dict[str, Any]],
    stream: bool,
) -> None:
    running = await serve(tmp_path, monkeypatch, fake, "fail_closed")
    numbers = itertools.count(1)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            assert await readiness(http) == (200, True)
            answers = await until_refused(http, numbers)
            refused = answers[-1]
            late = [await ask(http, stream, prompt=numbered(next(numbers))) for _ in range(REFUSED)]

            assert audit_unavailable(refused)
            # A record that no longer fits fails; a smaller one may still fit in the last
            # page. Either the intent was durable and the request went out, or it was
            # refused before any byte left: never sent without its intent.
            assert all(audit_unavailable(a) or a.status == 200 for a in late)
            assert await readiness(http) == (503, False)
            counted = (await http.get("/metrics")).text
        audit_dir = running.settings.audit.dir
        assert sends_without_intent([fake], audit_dir) == []
        served = request_ids([a for a in [*answers, *late] if complete(a)])
        assert served and answers_without_outcome(served, audit_dir) == []
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


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_while_no_record_can_be_made_durable_no_provider_receives_a_byte(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProvider,
    logs: list[dict[str, Any]],
    stream: bool,
) -> None:
    running = await serve(tmp_path, monkeypatch, fake, "fail_closed")
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            assert complete(await ask(http, stream, prompt=numbered(1)))
            limit_writer_file_size(running, 1)
            sent = len(fake.received)

            refused = [await ask(http, stream, prompt=numbered(n)) for n in range(2, 2 + REFUSED)]

            assert all(audit_unavailable(answer) for answer in refused)
            assert len(fake.received) == sent
            assert await readiness(http) == (503, False)
            limit_writer_file_size(running, resource.RLIM_INFINITY)
            after = await ask(http, stream, prompt=numbered(2 + REFUSED))
            assert complete(after)
        failures = [line for line in logs if line["event"] == "audit_write_failed"]
        assert failures and failures[0]["errno"] == errno.EFBIG
        audit_dir = running.settings.audit.dir
        assert sends_without_intent([fake], audit_dir) == []
        assert answers_without_outcome(request_ids(refused), audit_dir) == request_ids(refused)
        assert answers_without_outcome(request_ids([after]), audit_dir) == []
        await running.stop()
        running.verify_audit()
    finally:
        await running.stop()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_request_refused_before_its_probe_leaves_the_circuit_able_to_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider, stream: bool
) -> None:
    routing = {"circuit_failure_threshold": 1, "circuit_open_s": CIRCUIT_OPEN_S}
    running = await serve(tmp_path, monkeypatch, fake, "fail_closed", routing)
    breaker = running.sidecar.router.health["alpha"].breaker
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            fake.script(Unavailable())
            assert (await ask(http, stream=False)).status == 503  # the circuit opens
            await asyncio.sleep(CIRCUIT_OPEN_S)  # the breaker's clock: half-open from then on
            assert breaker.state is CircuitState.HALF_OPEN
            limit_writer_file_size(running, 1)
            # The probe slot was taken for this request, whose intent then failed.
            assert audit_unavailable(await ask(http, stream))
            limit_writer_file_size(running, resource.RLIM_INFINITY)

            assert complete(await ask(http, stream))
        assert breaker.state is CircuitState.CLOSED
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
        assert len(records(running.settings.audit.dir, "request")) < len(answers)
        unrecorded = {line["request_id"] for line in logs if line["event"] == "audit_unrecorded"}
        assert unrecorded and unrecorded <= set(request_ids(answers))
        running.verify_audit()
    finally:
        await running.stop()
