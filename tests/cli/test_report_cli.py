"""`policy-engine report cost` over the records a served sidecar wrote: the figures match
the fakes' token counts and the configured prices, and the page is written."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from policy_engine._config import Settings
from policy_engine.cli import main
from tests.fakes import FakeProvider, Ok, RateLimited
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

BODY = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
HEADERS = {"X-Tenant-ID": "sandbox", "X-Task-Class": "summarize"}


def config_file(settings: Settings, path: Path) -> Path:
    path.write_text(yaml.safe_dump(settings.model_dump(mode="json", exclude_none=True)))
    return path


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three answers: two from alpha (1,000 / 100 tokens at 2 / 8), one from bravo after
    alpha was rate limited (500 / 50 at 3 / 15). Returns the config file."""
    async with FakeProvider("openai") as alpha, FakeProvider("anthropic") as bravo:
        alpha.script(Ok(usage=(1000, 100)), RateLimited(retry_after=None), Ok(usage=(1000, 100)))
        bravo.script(Ok(usage=(500, 50)))
        quality = {"quality": 88.7}
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec(
                    "alpha",
                    alpha,
                    attributes={"price_per_1m_input": 2, "price_per_1m_output": 8, "sla": 0.99},
                    model_attributes={"test-model": quality},
                    priority=1,
                ),
                ProviderSpec(
                    "bravo",
                    bravo,
                    attributes={"price_per_1m_input": 3, "price_per_1m_output": 15, "sla": 0.99},
                    model_attributes={"test-model": quality},
                    priority=2,
                ),
            ],
            routing={"attempts_per_provider": 1},
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                for _ in range(3):
                    response = await http.post("/v1/chat/completions", json=BODY, headers=HEADERS)
                    assert response.status_code == 200
        finally:
            await running.stop()
    return config_file(settings, tmp_path / "config.yaml")


async def test_the_report_prices_what_the_sidecar_recorded(
    served: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "cost", "--config", str(served), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    alpha = (1000 * 2 + 100 * 8) / 1e6
    bravo = (500 * 3 + 50 * 15) / 1e6
    assert document["total"]["requests"] == 3
    assert document["total"]["cost_usd"] == pytest.approx(2 * alpha + bravo)
    assert document["total"]["fallback_cost_usd"] == pytest.approx(bravo)
    assert document["by_provider"]["bravo"]["fallbacks"] == 1
    assert document["by_task_class"]["summarize"]["requests"] == 3
    assert document["fallback_reasons"] == {"rate_limited": 1}
    names = [s["name"] for s in document["strategies"]]
    assert names == ["single provider", "dual provider"]
    assert document["notes"] == [
        "primary + self-hosted fallback: no self-hosted provider in the config"
    ]


async def test_the_table_and_the_page(
    served: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "cost.html"
    assert main(["report", "cost", "--config", str(served), "--html", str(page)]) == 0
    table = capsys.readouterr().out
    assert "served by fallbacks: 33.3% of requests" in table
    assert page.read_text().count("<svg") == 4


async def test_a_tenant_filter_keeps_only_its_traffic(
    served: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "cost", "--config", str(served), "--tenant", "nobody", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"]["requests"] == 0
    assert document["strategies"] == []


def test_a_missing_audit_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "cost", "--audit-dir", str(tmp_path / "none")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_neither_audit_dir_nor_config_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "cost"]) == 2
    assert "pass --audit-dir" in capsys.readouterr().err


async def test_an_unknown_primary_exits_2(served: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "cost", "--config", str(served), "--primary", "nowhere"]) == 2
    assert "--primary 'nowhere' is not a provider" in capsys.readouterr().err
