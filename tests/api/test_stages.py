"""The benchmark-only stage switches really switch their stage off (and only that)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

EMAIL = "ada@example.com"
CHAT = {"model": "default", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]}


@pytest.mark.parametrize("stage", ["redaction", "audit"])
async def test_a_disabled_stage_is_skipped_and_the_rest_still_runs(
    stage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeProvider("openai") as fake:
        settings = build_settings(tmp_path, [ProviderSpec("p", fake)], stages={stage: False})
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url) as http:
                response = await http.post(
                    "/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": "sandbox"}
                )
        finally:
            await running.stop()
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == f"write to {EMAIL}"
    sent = fake.received[-1].body.decode()
    assert (EMAIL in sent) is (stage == "redaction")
    audited = settings.audit.dir.exists() and running.audit_events() != []
    assert audited is (stage != "audit")
