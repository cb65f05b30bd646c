"""An EU tenant's Claude request falls back Anthropic -> Bedrock EU -> Vertex EU: the same
model on another cloud before a different model, and never to a US endpoint, however
the EU ones fail. Every fake records what it received; the US ones receive nothing.

The tenant (`nordwind-eu`: residency eu, prefers anthropic-eu) lives in a copy of the
shipped policies with its own tenants file; the policy is the shipped one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from policy_engine._config import parse_config
from policy_engine.cli import main
from tests.fakes import FakeProvider, Overloaded, RateLimited, ServerError, all_running
from tests.sidecar import POLICY_DIR, ProviderSpec, RunningSidecar, build_settings, start_sidecar

TENANT = "nordwind-eu"
HEADERS = {"X-Tenant-ID": TENANT}
SONNET = "claude-sonnet-4-5"
# id -> (fake protocol, region, the provider's name for Claude Sonnet 4.5)
CLAUDE = {
    "anthropic-eu": ("anthropic", None, SONNET),
    "bedrock-eu": ("bedrock", "eu-central-1", "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "vertex-eu": ("vertex", "europe-west1", "claude-sonnet-4-5@20250929"),
    "anthropic-us": ("anthropic", None, SONNET),
    "bedrock-us": ("bedrock", "us-east-1", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "vertex-us": ("vertex", "us-east5", "claude-sonnet-4-5@20250929"),
}
US = ["anthropic-us", "bedrock-us", "vertex-us"]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, folder)
    tenants = json.loads((folder / "tenants" / "data.json").read_text())
    tenants[TENANT] = {
        "residency": "eu",
        "privacy_tags": [],
        "preference": ["anthropic-eu"],
        "allow_refusal_fallback": False,
    }
    (folder / "tenants" / "data.json").write_text(json.dumps(tenants))
    return folder


@pytest.fixture
async def fakes() -> AsyncIterator[dict[str, FakeProvider]]:
    started = {
        pid: FakeProvider(protocol, name=pid, region=region)  # type: ignore[arg-type]
        for pid, (protocol, region, _) in CLAUDE.items()
    }
    started["mistral-eu"] = FakeProvider("openai", name="mistral-eu")
    async with all_running(started.values()):
        yield started


def specs(fakes: dict[str, FakeProvider]) -> list[ProviderSpec]:
    out = []
    for pid, (protocol, _region, model) in CLAUDE.items():
        residency = pid.rsplit("-", 1)[1]
        attributes: dict[str, Any] = {"residency": residency, "sla": 0.999}
        if protocol == "anthropic":
            attributes |= {"cloud": "anthropic", "region": residency}
        out.append(
            ProviderSpec(
                pid,
                fakes[pid],
                models={"default": model, "smart": model},
                attributes=attributes,
                model_attributes={model: {"model": SONNET}},
            )
        )
    # A different model, in the EU, first by priority: the same model elsewhere still
    # comes before it after a failure.
    out.append(
        ProviderSpec(
            "mistral-eu",
            fakes["mistral-eu"],
            models={"default": "mistral-large-latest", "smart": "mistral-large-latest"},
            attributes={"residency": "eu", "cloud": "scaleway", "region": "fr-par", "sla": 0.995},
            priority=1,
        )
    )
    return out


@pytest.fixture
async def sidecar(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fakes: dict[str, FakeProvider],
    policy_dir: Path,
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(tmp_path, specs(fakes), policy={"policy_dir": str(policy_dir)})
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


def untouched(fakes: dict[str, FakeProvider], ids: list[str]) -> None:
    for pid in ids:
        assert fakes[pid].received == [], f"{pid} received a request"


def attempts(running: RunningSidecar) -> list[tuple[str, str]]:
    return [(a["provider"], a["outcome"]) for a in running.audit_events()[-1]["attempts"]]


async def test_claude_falls_back_anthropic_then_bedrock_eu_then_vertex_eu(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    fakes["anthropic-eu"].always(Overloaded())
    fakes["bedrock-eu"].always(RateLimited(retry_after=None))
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http:
        response = await http.post(
            "/v1/chat/completions",
            json={"model": "smart", "messages": [{"role": "user", "content": "Guten Tag"}]},
            headers=HEADERS,
        )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Guten Tag"
    assert response.headers["x-routed-provider"] == "vertex-eu"
    assert response.headers["x-routed-model"] == SONNET
    assert "x-fallback" in response.headers
    assert attempts(sidecar) == [
        ("anthropic-eu", "overloaded"),
        ("bedrock-eu", "rate_limited"),
        ("vertex-eu", "ok"),
    ]
    untouched(fakes, [*US, "mistral-eu"])
    decision = sidecar.audit_events()[-1]["policy"]
    assert decision["preference"] == ["anthropic-eu", "bedrock-eu", "vertex-eu"]
    for pid in US:
        assert any(r.startswith("residency: tenant requires eu") for r in decision["denied"][pid])


async def test_a_streamed_claude_request_takes_the_same_cross_cloud_route(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    fakes["anthropic-eu"].always(ServerError(500))
    fakes["bedrock-eu"].always(Overloaded())
    client = sidecar.anthropic_sdk(HEADERS)
    async with client.messages.stream(
        model="smart", max_tokens=100, messages=[{"role": "user", "content": "Hallo"}]
    ) as stream:
        message = await stream.get_final_message()
    assert [b.text for b in message.content if b.type == "text"] == ["Hallo"]
    assert attempts(sidecar)[-1] == ("vertex-eu", "ok")
    untouched(fakes, [*US, "mistral-eu"])


async def test_with_every_eu_claude_down_a_different_eu_model_answers_not_a_us_claude(
    sidecar: RunningSidecar, fakes: dict[str, FakeProvider]
) -> None:
    for pid in ("anthropic-eu", "bedrock-eu", "vertex-eu"):
        fakes[pid].always(ServerError(503))
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http:
        response = await http.post(
            "/v1/chat/completions",
            json={"model": "smart", "messages": [{"role": "user", "content": "Hej"}]},
            headers=HEADERS,
        )
    assert response.headers["x-routed-provider"] == "mistral-eu"
    tried = [pid for pid, _ in attempts(sidecar)]
    assert tried[-1] == "mistral-eu"
    assert set(tried[:-1]) == {"anthropic-eu", "bedrock-eu", "vertex-eu"}
    untouched(fakes, US)


def test_the_resilience_report_shows_the_cross_cloud_route(
    tmp_path: Path,
    fakes: dict[str, FakeProvider],
    policy_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = {
        "policy": {"policy_dir": str(policy_dir)},
        "audit": {"dir": str(tmp_path / "audit"), "signing_key_file": str(tmp_path / "key.pem")},
        "providers": [spec.config() for spec in specs(fakes)],
    }
    parse_config(json.loads(json.dumps(raw)))  # the file below is a valid config
    config = tmp_path / "policy-engine.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["resilience", "--config", str(config), "--tenant", TENANT, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    row = next(
        r
        for r in rows
        if r["alias"] == "smart" and r["residency"] is None and not r["privacy_tags"]
    )
    assert row["route"] == ["anthropic-eu", "bedrock-eu", "vertex-eu", "mistral-eu"]
    assert (row["clouds"], row["status"]) == (4, "ok")
    assert not set(US) & {p for r in rows for p in r["route"]}
