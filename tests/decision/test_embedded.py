"""The embedded regopy engine: revision, decisions, and failing closed on a bad policy."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import Decider, EmbeddedEngine
from tests.decision._support import ENTRYPOINT, POLICY_DIR, context

EU_PROVIDERS = (
    "anthropic-eu",
    "azure-openai-eu",
    "bedrock-eu",
    "gemini-eu",
    "mistral-eu",
    "vertex-eu",
    "vllm-onprem",
)


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, copy)
    return copy


@pytest.fixture
def decider(catalog: dict[str, Any]) -> Decider:
    return Decider(EmbeddedEngine(POLICY_DIR, ENTRYPOINT), catalog, timeout_ms=1000)


def single_rule_policy(tmp_path: Path, rego: str) -> Path:
    directory = tmp_path / "policy"
    (directory / "router").mkdir(parents=True)
    (directory / "router" / "decision.rego").write_text("package router\n\n" + rego)
    return directory


def test_revision_is_a_sha256_of_the_policy_files() -> None:
    revision = EmbeddedEngine(POLICY_DIR, ENTRYPOINT).revision
    assert revision.startswith("sha256:")
    assert len(revision.removeprefix("sha256:")) == 64


def test_revision_does_not_depend_on_where_the_folder_lives(policy_copy: Path) -> None:
    here = EmbeddedEngine(POLICY_DIR, ENTRYPOINT).revision
    assert EmbeddedEngine(policy_copy, ENTRYPOINT).revision == here


def test_revision_changes_when_a_policy_module_changes(policy_copy: Path) -> None:
    before = EmbeddedEngine(policy_copy, ENTRYPOINT).revision
    with (policy_copy / "router" / "decision.rego").open("a") as module:
        module.write("\n# edited\n")
    assert EmbeddedEngine(policy_copy, ENTRYPOINT).revision != before


def test_revision_changes_when_tenant_data_changes(policy_copy: Path) -> None:
    before = EmbeddedEngine(policy_copy, ENTRYPOINT).revision
    tenants = policy_copy / "tenants" / "data.json"
    tenants.write_text(tenants.read_text().replace('"acme-eu"', '"acme-eu2"'))
    assert EmbeddedEngine(policy_copy, ENTRYPOINT).revision != before


def test_revision_ignores_policy_unit_tests(policy_copy: Path) -> None:
    before = EmbeddedEngine(policy_copy, ENTRYPOINT).revision
    with (policy_copy / "router" / "decision_test.rego").open("a") as module:
        module.write("\n# edited\n")
    (policy_copy / "router" / "extra_test.rego").write_text("package router_test\n")
    assert EmbeddedEngine(policy_copy, ENTRYPOINT).revision == before


async def test_decision_carries_the_engine_revision(decider: Decider) -> None:
    decision = await decider.decide(context("sandbox"))
    assert decision.revision == decider.engine.revision


async def test_eu_tenant_is_allowed_only_eu_providers(decider: Decider) -> None:
    decision = await decider.decide(context("acme-eu"))
    assert decision.allowed == EU_PROVIDERS
    assert decision.constraints.residency == "eu"


async def test_eu_tenant_gets_names_and_places_redacted_for_third_parties(
    decider: Decider,
) -> None:
    decision = await decider.decide(context("acme-eu"))
    assert {"PERSON", "LOCATION", "EMAIL_ADDRESS"} <= set(decision.obligations.redact["mistral-eu"])


async def test_eu_tenant_preference_is_kept_in_tenant_order(decider: Decider) -> None:
    decision = await decider.decide(context("acme-eu"))
    assert decision.preference == ("mistral-eu", "azure-openai-eu", "gemini-eu")


async def test_residency_header_cannot_move_an_eu_tenant_to_the_us(decider: Decider) -> None:
    decision = await decider.decide(context("acme-eu", residency="us"))
    assert decision.allowed == ()
    assert all(
        any("a header may not change a tenant's residency" in r for r in reasons)
        for reasons in decision.denied.values()
    )


async def test_phi_tenant_is_allowed_only_hipaa_providers_in_its_residency(
    decider: Decider,
) -> None:
    decision = await decider.decide(context("medibridge-us"))
    assert decision.allowed == ("anthropic-us", "azure-openai-us", "bedrock-us")


async def test_pci_tenant_is_allowed_only_self_hosted_providers(decider: Decider) -> None:
    decision = await decider.decide(context("paystream"))
    assert decision.allowed == ("vllm-onprem",)


async def test_tenant_lists_deny_listed_and_unlisted_providers(decider: Decider) -> None:
    decision = await decider.decide(context("globex"))
    assert decision.allowed == ("azure-openai-us", "openai-us", "vllm-onprem")
    assert decision.denied["anthropic-us"] == (
        "tenant: anthropic-us is on tenant globex's deny list",
    )
    assert decision.obligations.allow_refusal_fallback is True


async def test_unknown_tenant_is_allowed_nothing(decider: Decider, catalog: dict[str, Any]) -> None:
    decision = await decider.decide(context("initech", residency="eu", tags=("phi",)))
    assert decision.tenant_known is False
    assert decision.allowed == ()
    assert decision.denied == {provider: ("unknown tenant",) for provider in catalog}


def test_policy_that_does_not_compile_fails_at_construction(tmp_path: Path) -> None:
    directory = single_rule_policy(tmp_path, "decision := {\n")
    with pytest.raises(PolicyUnavailable) as raised:
        EmbeddedEngine(directory, ENTRYPOINT)
    assert raised.value.cause == "not_loaded"


def test_policy_folder_without_modules_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(PolicyUnavailable) as raised:
        EmbeddedEngine(tmp_path, ENTRYPOINT)
    assert raised.value.cause == "not_loaded"


def test_invalid_tenant_data_fails_at_construction(policy_copy: Path) -> None:
    (policy_copy / "tenants" / "data.json").write_text("{not json")
    with pytest.raises(PolicyUnavailable) as raised:
        EmbeddedEngine(policy_copy, ENTRYPOINT)
    assert raised.value.cause == "not_loaded"


async def test_conflicting_rules_at_runtime_are_an_error(tmp_path: Path) -> None:
    directory = single_rule_policy(
        tmp_path, 'decision := {"a": 1} if input.tenant\n\ndecision := {"a": 2} if input.tenant\n'
    )
    decider = Decider(EmbeddedEngine(directory, ENTRYPOINT), {}, timeout_ms=1000)
    with pytest.raises(PolicyUnavailable) as raised:
        await decider.decide(context("sandbox"))
    assert raised.value.cause == "error"


async def test_undefined_entrypoint_is_undefined(tmp_path: Path) -> None:
    directory = single_rule_policy(tmp_path, 'decision := {"a": 1} if input.never\n')
    decider = Decider(EmbeddedEngine(directory, ENTRYPOINT), {}, timeout_ms=1000)
    with pytest.raises(PolicyUnavailable) as raised:
        await decider.decide(context("sandbox"))
    assert raised.value.cause == "undefined"


async def test_decision_of_the_wrong_shape_is_malformed(tmp_path: Path) -> None:
    directory = single_rule_policy(tmp_path, 'decision := {"allowed": "everyone"}\n')
    decider = Decider(EmbeddedEngine(directory, ENTRYPOINT), {}, timeout_ms=1000)
    with pytest.raises(PolicyUnavailable) as raised:
        await decider.decide(context("sandbox"))
    assert raised.value.cause == "malformed"
