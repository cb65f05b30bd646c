"""Tenants and tags come from the policy the decisions come from, embedded or OPA."""

from __future__ import annotations

import json
from pathlib import Path

from policy_engine._config import load_config
from policy_engine._context import provider_catalog
from policy_engine.decision import Decider, OpaEngine
from policy_engine.resilience import build_report, read_policy_facts
from tests.decision._support import opa_arguments, running_opa
from tests.resilience._support import TENANTS, write_deployment
from tests.resilience.conftest import decider_for


async def test_embedded_facts_are_the_tenants_and_the_policys_known_tags(tmp_path: Path) -> None:
    facts = await read_policy_facts(load_config(write_deployment(tmp_path)))
    assert facts.tenants == TENANTS
    assert facts.privacy_tags == ("confidential", "pci", "phi", "pii")


async def test_a_tag_only_a_tenant_names_is_enumerated_too(tmp_path: Path) -> None:
    config = write_deployment(tmp_path)
    (tmp_path / "policies" / "tenants" / "data.json").write_text(
        json.dumps({"odd": {"privacy_tags": [" Biometric "]}})
    )
    facts = await read_policy_facts(load_config(config))
    assert "biometric" in facts.privacy_tags


async def test_opa_facts_equal_the_embedded_facts(tmp_path: Path) -> None:
    embedded = load_config(write_deployment(tmp_path / "embedded"))
    with running_opa(opa_arguments(embedded.policy.policy_dir)) as opa:
        remote = load_config(write_deployment(tmp_path / "opa", opa_url=opa.url))
        assert await read_policy_facts(remote) == await read_policy_facts(embedded)


async def test_a_report_through_opa_equals_the_embedded_report(tmp_path: Path) -> None:
    embedded = load_config(write_deployment(tmp_path / "embedded"))
    expected = await build_report(
        decider_for(embedded), embedded, await read_policy_facts(embedded)
    )
    with running_opa(opa_arguments(embedded.policy.policy_dir)) as opa:
        remote = load_config(write_deployment(tmp_path / "opa", opa_url=opa.url))
        engine = OpaEngine(opa.url, remote.policy.entrypoint, timeout_ms=5000)
        try:
            decider = Decider(engine, provider_catalog(remote), timeout_ms=5000)
            report = await build_report(decider, remote, await read_policy_facts(remote))
        finally:
            await engine.close()
    strip = [{k: v for k, v in row.items() if k != "revision"} for row in report.to_json()["rows"]]
    assert strip == [
        {k: v for k, v in row.items() if k != "revision"} for row in expected.to_json()["rows"]
    ]
