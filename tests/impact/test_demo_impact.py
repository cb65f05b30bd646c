"""Done when: `policy impact` on the demo's log, with a proposal that drops a provider,
reports exactly the requests that change, checked against OPA evaluating both policies
directly on each request's input."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policy_engine._context import provider_catalog
from policy_engine.cli import main
from tests.impact._demo_log import PROMPT, DemoLog, Sent, drop_provider_policy, write_demo_log

REPO = Path(__file__).resolve().parents[2]
OPA = REPO / "tools" / "bin" / "opa"


@pytest.fixture
async def demo_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DemoLog:
    return await write_demo_log(tmp_path, monkeypatch)


def opa_decision(policy_dir: Path, value: dict[str, Any]) -> dict[str, Any]:
    """The decision as OPA computes it from the policy folder: no sidecar code involved."""
    result = subprocess.run(
        [
            str(OPA),
            "eval",
            "--format=json",
            "--ignore",
            "*_test.rego",
            "--data",
            str(policy_dir),
            "--stdin-input",
            "data.router.decision",
        ],
        input=json.dumps(value),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    decision: dict[str, Any] = json.loads(result.stdout)["result"][0]["expressions"][0]["value"]
    return decision


def input_of(sent: Sent, catalog: dict[str, Any]) -> dict[str, Any]:
    """What the sidecar sends the policy for this request, rebuilt from what was sent."""
    tags = sorted({t for t in sent.tags.split(",") if t})
    return {
        "tenant": sent.tenant,
        "request": {
            "residency": sent.residency,
            "privacy_tags": tags,
            "model": sent.model,
            "stream": False,
            "input_chars": len(PROMPT),
            "protocol": "openai",
        },
        "budget": {"exhausted": [], "remaining": {}},
        "providers": catalog,
    }


def serving(decision: dict[str, Any], model: str, catalog: dict[str, Any]) -> set[str]:
    return {p for p in decision["allowed"] if model in catalog[p]["models"]}


async def test_impact_of_dropping_a_provider_names_exactly_the_requests_opa_says_change(
    demo_log: DemoLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = demo_log.settings
    proposed = drop_provider_policy(settings, tmp_path / "proposed")
    catalog = provider_catalog(settings)
    changed: set[str] = set()
    newly_denied: set[str] = set()
    for sent in demo_log.sent:
        value = input_of(sent, catalog)
        before = opa_decision(settings.policy.policy_dir, value)
        after = opa_decision(proposed, value)
        if before["allowed"] != after["allowed"] or before["obligations"] != after["obligations"]:
            changed.add(sent.request_id)
        if serving(before, sent.model, catalog) and not serving(after, sent.model, catalog):
            newly_denied.add(sent.request_id)
    assert changed and newly_denied  # the traffic reaches the dropped provider

    code = await asyncio.to_thread(
        main,
        [
            "policy",
            "impact",
            "--config",
            str(demo_log.config),
            "--proposed",
            str(proposed),
            "--json",
        ],
    )
    report = json.loads(capsys.readouterr().out)

    assert code == 0
    reported = [r for g in report["groups"] for r in g["requests_changed"]]
    assert {r["request_id"] for r in reported} == changed
    assert {r["request_id"] for r in reported if r["newly_denied"]} == newly_denied
    assert all(r["removed"] == ["azure-openai-us"] and not r["added"] for r in reported)
    assert report["summary"]["catalog_assumed"] == 0
    assert report["summary"]["skipped"] == {"refused before a decision": 1}
