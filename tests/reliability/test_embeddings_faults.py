"""Embeddings fail closed as chat does: a policy that cannot be evaluated, or an intent
record that cannot be made durable, sends nothing to any provider; the client gets a
503 in OpenAI's shape, and the request is accounted for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policy_engine.audit import AuditUnavailable, RecordKind
from tests.decision._support import running_opa
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

BODY = {"model": "embed", "input": ["Contact jane.roe@example.org"]}
HEADERS = {"X-Tenant-ID": "sandbox"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as provider:
        yield provider


async def serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider, **policy: Any
) -> RunningSidecar:
    settings = build_settings(
        tmp_path,
        [ProviderSpec("alpha", fake, models={"default": "chat", "embed": "e-small"})],
        embeddings={"embed": {}},
        policy={**policy, "timeout_ms": 2000},
    )
    return await start_sidecar(settings, monkeypatch)


async def post(running: RunningSidecar) -> httpx.Response:
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        return await http.post("/v1/embeddings", json=BODY, headers=HEADERS)


async def test_a_killed_opa_fails_closed_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider
) -> None:
    with running_opa() as opa:
        running = await serve(tmp_path, monkeypatch, fake, opa_url=opa.url)
        try:
            assert (await post(running)).status_code == 200
            opa.process.kill()
            opa.process.wait(timeout=10)
            response = await post(running)
        finally:
            await running.stop()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "policy_unavailable"
    assert len(fake.embedding_calls()) == 1, "only the request decided before the kill"
    outcome = running.audit_events()[-1]
    assert (outcome["outcome"], outcome["context"]["operation"]) == ("failed_closed", "embeddings")


async def test_an_intent_that_cannot_be_made_durable_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeProvider
) -> None:
    running = await serve(tmp_path, monkeypatch, fake)
    audit = running.sidecar.audit
    submit = audit.submit

    def refuse_intents(event: dict[str, Any], kind: RecordKind = "request") -> Any:
        # A stand-in for a full disk, on intents only: real disk faults are driven
        # through the write-ahead path embeddings share with chat in test_audit_faults.
        if kind == "intent":
            failed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            failed.set_exception(AuditUnavailable("disk full"))
            return failed
        return submit(event, kind)

    monkeypatch.setattr(audit, "submit", refuse_intents)
    try:
        response = await post(running)
    finally:
        await running.stop()
    assert response.status_code == 503
    assert response.json()["error"]["type"] == "api_error"
    assert fake.received == []
    assert running.audit_events()[-1]["outcome"] == "audit_failed"
