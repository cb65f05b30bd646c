"""Redaction obligations no detector can meet (PERSON without NER): fail closed, or recorded."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, build_settings, chat_once

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
EU = {"residency": "eu"}


async def post_as_acme_eu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, undetectable: str
) -> tuple[httpx.Response, list[dict[str, object]], int]:
    async with FakeProvider("openai") as fake:
        settings = build_settings(
            tmp_path,
            [ProviderSpec("eu-one", fake, attributes=EU)],
            redaction={"undetectable": undetectable},
        )
        response, running = await chat_once(settings, monkeypatch, CHAT, {"X-Tenant-ID": "acme-eu"})
        return response, running.audit_events(), len(fake.received)


async def test_an_obligation_no_detector_can_meet_fails_closed_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    response, events, sent = await post_as_acme_eu(tmp_path, monkeypatch, "fail_closed")
    assert response.status_code == 503
    assert "PERSON" in response.json()["error"]["message"]
    assert sent == 0
    assert events[-1]["outcome"] == "failed_closed"


async def test_record_mode_sends_and_writes_the_unmet_obligation_into_the_audit_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    response, events, sent = await post_as_acme_eu(tmp_path, monkeypatch, "record")
    assert response.status_code == 200
    assert sent == 1
    assert events[-1]["unredactable"] == ["LOCATION", "PERSON"]


async def test_tenants_without_such_obligations_are_unaffected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeProvider("openai") as fake:
        settings = build_settings(tmp_path, [ProviderSpec("p", fake)])
        response, running = await chat_once(settings, monkeypatch, CHAT, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 200
    assert running.audit_events()[-1]["unredactable"] == []
