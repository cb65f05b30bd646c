"""One large request's scan never stalls the others: it runs off the event loop.

A detector that holds every large text until the test lets it go stands in for a slow
scan of a hostile body (a real scan's duration is no fixed point a test can wait on).
While it holds one, the served sidecar must still answer /healthz and another
request; were the scan on the event loop, neither could be answered before it ended.
That the scan runs in a process of its own, where even a scan holding the GIL stalls
nothing, tests/redaction/test_session.py shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from policy_engine.redaction import PatternDetector, Redactor, Span
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

LARGE = 64 * 1024
EMAIL = "jane.roe@example.org"
# Long enough to be sure a broken isolation shows; the scan is let go well before.
HOLD_LIMIT_S = 10
HEADERS = {"X-Tenant-ID": "sandbox"}


class HoldingDetector:
    """The pattern detector, holding each large text until released. It signals through
    files, so it works the same in the scan process and in the sidecar's own."""

    entity_types = PatternDetector().entity_types

    def __init__(self, signals: Path) -> None:
        self.holding = signals / "holding"
        self.release = signals / "release"
        self.finished = signals / "finished"

    def detect(self, text: str) -> list[Span]:
        if len(text) >= LARGE:
            self.holding.touch()
            wait_for(self.release)
            self.finished.touch()
        # Made where it runs: a compiled detector does not unpickle in the scan process.
        return PatternDetector().detect(text)


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a file another process writes, with a bound


@dataclass
class Served:
    http: httpx.AsyncClient
    detector: HoldingDetector
    fake: FakeProvider


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    detector = HoldingDetector(tmp_path)
    monkeypatch.setattr(
        "policy_engine.api._sidecar.default_redactor", lambda **_: Redactor([detector])
    )
    async with FakeProvider("openai", reply="ok") as fake:
        settings = build_settings(tmp_path, [ProviderSpec("openai-1", fake)])
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                yield Served(http, detector, fake)
        finally:
            detector.release.touch()
            await running.stop()


def chat(text: str) -> dict[str, Any]:
    return {"model": "default", "messages": [{"role": "user", "content": text}]}


async def start_large_request(served: Served) -> asyncio.Task[Any]:
    body = chat(("lorem ipsum " * (LARGE // 12 + 1)) + EMAIL)
    task = asyncio.create_task(served.http.post("/v1/chat/completions", json=body, headers=HEADERS))
    await asyncio.to_thread(wait_for, served.detector.holding)
    return task


async def test_healthz_answers_while_a_large_body_is_scanned(served: Served) -> None:
    large = await start_large_request(served)
    health = await served.http.get("/healthz")
    assert health.status_code == 200
    assert not served.detector.finished.exists()
    served.detector.release.touch()
    assert (await large).status_code == 200


async def test_another_request_is_answered_while_a_large_body_is_scanned(served: Served) -> None:
    large = await start_large_request(served)
    small = await served.http.post(
        "/v1/chat/completions", json=chat(f"mail {EMAIL}"), headers=HEADERS
    )
    assert small.status_code == 200
    assert not served.detector.finished.exists()
    served.detector.release.touch()
    assert (await large).status_code == 200
    assert all(EMAIL.encode() not in received.body for received in served.fake.received)
