"""Decisions from a real OPA server over its REST Data API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from policy_engine.decision import Decider, OpaEngine
from tests.decision._support import ENTRYPOINT, FakeOpa, OpaServer, context
from tests.ports import free_port

OPA_REVISION = re.compile(r"opa-sha256:[0-9a-f]{64}")


@pytest.fixture
async def engine(opa_server: OpaServer) -> AsyncIterator[OpaEngine]:
    engine = OpaEngine(opa_server.url, ENTRYPOINT, timeout_ms=2000)
    yield engine
    await engine.close()


@pytest.fixture
def decider(engine: OpaEngine, catalog: dict[str, Any]) -> Decider:
    return Decider(engine, catalog, timeout_ms=2000)


async def test_engine_is_ready_when_opa_is_healthy(engine: OpaEngine) -> None:
    assert await engine.ready() is True


async def test_ready_engine_knows_the_revision_of_the_policy_opa_holds(engine: OpaEngine) -> None:
    await engine.ready()
    assert OPA_REVISION.fullmatch(engine.revision)


async def test_engine_is_not_ready_when_nothing_listens() -> None:
    engine = OpaEngine(f"http://127.0.0.1:{free_port()}", ENTRYPOINT, timeout_ms=500)
    try:
        assert await engine.ready() is False
    finally:
        await engine.close()


async def test_decision_carries_the_revision_opa_holds(engine: OpaEngine, decider: Decider) -> None:
    await engine.ready()
    decision = await decider.decide(context("sandbox"))
    assert decision.revision == engine.revision


async def test_first_decision_carries_a_real_revision(decider: Decider) -> None:
    decision = await decider.decide(context("sandbox"))
    assert OPA_REVISION.fullmatch(decision.revision)


async def test_eu_tenant_is_allowed_only_eu_providers(decider: Decider) -> None:
    decision = await decider.decide(context("acme-eu"))
    assert decision.allowed == (
        "anthropic-eu",
        "azure-openai-eu",
        "bedrock-eu",
        "gemini-eu",
        "mistral-eu",
        "vertex-eu",
        "vllm-onprem",
    )


async def test_health_tenant_is_allowed_only_hipaa_providers(decider: Decider) -> None:
    decision = await decider.decide(context("medibridge-us"))
    assert decision.allowed == ("anthropic-us", "azure-openai-us", "bedrock-us")


async def test_tenant_preference_comes_back_in_tenant_order(decider: Decider) -> None:
    decision = await decider.decide(context("globex"))
    # azure-openai-us serves the same model as openai-us, so it follows it.
    assert decision.preference == ("vllm-onprem", "openai-us", "azure-openai-us")


async def test_unknown_tenant_is_allowed_nothing(decider: Decider, catalog: dict[str, Any]) -> None:
    decision = await decider.decide(context("initech"))
    assert decision.tenant_known is False
    assert decision.allowed == ()
    assert set(decision.denied) == set(catalog)


async def test_decision_from_a_bundle_carries_the_bundle_revision(fake_opa: FakeOpa) -> None:
    nothing_allowed = {
        "tenant_known": False,
        "allowed": [],
        "denied": {},
        "obligations": {"redact": {}},
    }
    bundles = {"tenants": {"revision": "t-7"}, "router": {"revision": "r-42"}}
    fake_opa.answer_json({"result": nothing_allowed, "provenance": {"bundles": bundles}})
    engine = OpaEngine(fake_opa.url, ENTRYPOINT, timeout_ms=2000)
    try:
        decision = await Decider(engine, {}, timeout_ms=2000).decide(context("sandbox"))
    finally:
        await engine.close()
    assert decision.revision == "bundle:router@r-42,tenants@t-7"
