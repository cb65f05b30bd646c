"""The benchmark-only stage switches really switch their stage off (and only that)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, build_settings, chat_once

EMAIL = "ada@example.com"
CHAT = {"model": "default", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]}


@pytest.mark.parametrize("stage", ["redaction", "audit"])
async def test_a_disabled_stage_is_skipped_and_the_rest_still_runs(
    stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeProvider("openai") as fake:
        settings = build_settings(tmp_path, [ProviderSpec("p", fake)], stages={stage: False})
        response, running = await chat_once(settings, monkeypatch, CHAT, {"X-Tenant-ID": "sandbox"})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == f"write to {EMAIL}"
    sent = fake.received[-1].body.decode()
    assert (EMAIL in sent) is (stage == "redaction")
    audited = settings.audit.dir.exists() and running.audit_events() != []
    assert audited is (stage != "audit")
