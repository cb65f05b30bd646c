"""Real OPA (REST) and embedded regopy give the same decision for the same routing context.

The sidecar may run either engine, so any difference is a routing difference. Inputs
go through the product path (`Decider.decide`) on both sides; decisions are compared
whole except for the revision, whose format differs by engine.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import ADAPTER_NAMES
from policy_engine._config import ModelAttributes, ProviderAttributes
from policy_engine._context import RoutingContext
from policy_engine.decision import Decider, EmbeddedEngine, OpaEngine, PolicyDecision
from tests.decision._support import ENTRYPOINT, POLICY_DIR, OpaServer, context

SHIPPED_TENANTS = sorted(json.loads((POLICY_DIR / "tenants" / "data.json").read_text()))
RESIDENCIES = [None, "eu", "us", "uk", "xx"]
TAGS = ["pii", "phi", "pci", "confidential", "other"]
MODELS = ["default", "smart", "fast"]
TASK_CLASSES = ["autocomplete", "summarize", "analysis", "poetry"]
# Ids the shipped tenants name in their allow, deny and preference lists.
NAMED_PROVIDERS = [
    "openai-us",
    "azure-openai-us",
    "azure-openai-eu",
    "anthropic-us",
    "mistral-eu",
    "gemini-eu",
    "vllm-onprem",
]
EXAMPLES = 20
# The engines are stateless between calls, so sharing them across examples is sound.
PER_EXAMPLE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

TABLE = [
    context("acme-eu"),
    context("acme-eu", "eu", ("pii",)),
    context("acme-eu", "us"),
    context("acme-eu", None, ("phi",)),
    context("medibridge-us"),
    context("medibridge-us", "eu", ("pii",)),
    context("paystream", "eu"),
    context("lexvault", None, ("phi",)),
    context("globex", None, ("pci",)),
    context("globex", "us", (), "smart"),
    context("sandbox", None, ("confidential", "other", "pci", "phi", "pii")),
    context("initech", "xx", ("other",)),
    replace(context("medibridge-us"), operation="embeddings"),
    replace(context("paystream"), operation="embeddings"),
    replace(context("paystream"), operation="responses"),
    replace(context("sandbox", None, ("phi",)), operation="embeddings"),
]

routing_contexts = st.builds(
    RoutingContext,
    tenant=st.sampled_from(SHIPPED_TENANTS) | st.sampled_from(["initech", "hooli-eu", "x"]),
    residency=st.sampled_from(RESIDENCIES),
    privacy_tags=st.sets(st.sampled_from(TAGS)).map(lambda tags: tuple(sorted(tags))),
    model=st.sampled_from(MODELS),
    stream=st.booleans(),
    input_chars=st.integers(0, 100_000),
    protocol=st.sampled_from(["openai", "anthropic"]),
    task_classes=st.sets(st.sampled_from(TASK_CLASSES)).map(lambda c: tuple(sorted(c))),
    input_tokens=st.integers(0, 300_000),
    has_tools=st.booleans(),
    has_images=st.booleans(),
    operation=st.sampled_from(["chat", "responses", "embeddings"]),
)

# Scores as the config allows them: 0-100 with at most one decimal.
model_facts = st.builds(
    ModelAttributes,
    model=st.sampled_from(["gpt-4o", "claude", "llama"]),
    quality=st.none() | st.integers(0, 1000).map(lambda tenths: tenths / 10),
    context_window=st.none() | st.sampled_from([8192, 128_000, 200_000]),
    tools=st.none() | st.booleans(),
    vision=st.none() | st.booleans(),
)


@st.composite
def provider_entries(draw: st.DrawFn) -> dict[str, Any]:
    """One catalog entry, built the way `provider_catalog` builds it from the config."""
    attributes = ProviderAttributes(
        residency=draw(st.sampled_from([None, "eu", "us", "uk", "EU", " us "])),
        cloud=draw(st.sampled_from([None, "aws", "azure", "gcp", "onprem"])),
        certifications=draw(
            st.lists(st.sampled_from(["hipaa_baa", "soc2", "iso27001"]), unique=True)
        ),
        zero_data_retention=draw(st.booleans()),
        self_hosted=draw(st.booleans()),
        price_per_1m_input=draw(st.none() | st.floats(0, 50, allow_nan=False)),
    )
    models = draw(st.sets(st.sampled_from(MODELS[1:]))) | {"default"}
    facts = {alias: draw(model_facts).model_dump(exclude_none=True) for alias in sorted(models)}
    return {
        "adapter": draw(st.sampled_from(ADAPTER_NAMES)),
        "models": sorted(models),
        "attributes": attributes.model_dump(exclude_none=True),
        "model_attributes": facts,
    }


catalogs = st.dictionaries(
    st.sampled_from(NAMED_PROVIDERS) | st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,20}", fullmatch=True),
    provider_entries(),
    max_size=6,
)


@pytest.fixture
def embedded() -> EmbeddedEngine:
    return EmbeddedEngine(POLICY_DIR, ENTRYPOINT)


@pytest.fixture
async def opa(opa_server: OpaServer) -> AsyncIterator[OpaEngine]:
    engine = OpaEngine(opa_server.url, ENTRYPOINT, timeout_ms=5000)
    yield engine
    await engine.close()


def comparable(decision: PolicyDecision) -> dict[str, Any]:
    return decision.model_dump(exclude={"revision"})


async def assert_same_decision(
    embedded: EmbeddedEngine,
    opa: OpaEngine,
    routing: RoutingContext,
    catalog: dict[str, Any],
) -> None:
    from_regopy = await Decider(embedded, catalog, timeout_ms=5000).decide(routing)
    from_opa = await Decider(opa, catalog, timeout_ms=5000).decide(routing)
    assert comparable(from_regopy) == comparable(from_opa), routing


@pytest.mark.parametrize(
    "routing", TABLE, ids=lambda c: f"{c.tenant}-{c.residency}-{c.privacy_tags}"
)
async def test_table_context_gets_the_same_decision_from_both_engines(
    routing: RoutingContext,
    embedded: EmbeddedEngine,
    opa: OpaEngine,
    catalog: dict[str, Any],
) -> None:
    await assert_same_decision(embedded, opa, routing, catalog)


@PER_EXAMPLE
@given(routing=routing_contexts)
async def test_any_context_gets_the_same_decision_from_both_engines(
    routing: RoutingContext,
    embedded: EmbeddedEngine,
    opa: OpaEngine,
    catalog: dict[str, Any],
) -> None:
    await assert_same_decision(embedded, opa, routing, catalog)


@PER_EXAMPLE
@given(routing=routing_contexts, random_catalog=catalogs)
async def test_any_catalog_gets_the_same_decision_from_both_engines(
    routing: RoutingContext,
    random_catalog: dict[str, Any],
    embedded: EmbeddedEngine,
    opa: OpaEngine,
) -> None:
    await assert_same_decision(embedded, opa, routing, random_catalog)
