"""A cached decision is always the decision a fresh evaluation would give.

The cache key holds only the request fields the policy text names; these tests try
to make a cached decision differ from a fresh one, by random contexts against the
shipped policy and by a policy that reads a field it never names.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine._context import RoutingContext
from policy_engine.decision import Decider, EmbeddedEngine, PolicyDecision
from tests.decision._support import ENTRYPOINT, POLICY_DIR

TENANTS = sorted(json.loads((POLICY_DIR / "tenants" / "data.json").read_text()))

routing_contexts = st.builds(
    RoutingContext,
    tenant=st.sampled_from([*TENANTS, "initech"]),
    residency=st.sampled_from([None, "eu", "us"]),
    privacy_tags=st.sets(st.sampled_from(["pii", "phi", "pci"])).map(lambda t: tuple(sorted(t))),
    model=st.sampled_from(["default", "smart"]),
    stream=st.booleans(),
    input_chars=st.integers(0, 10_000),
    protocol=st.sampled_from(["openai", "anthropic"]),
    task_classes=st.sets(st.sampled_from(["autocomplete", "analysis", "poetry"])).map(
        lambda c: tuple(sorted(c))
    ),
    input_tokens=st.sampled_from([0, 4096, 9216, 200_000]),
    has_tools=st.booleans(),
    has_images=st.booleans(),
    operation=st.sampled_from(["chat", "responses", "embeddings"]),
)

# Limits in tenant data name the request field; the Rego reads it through a variable.
DATA_DRIVEN_LIMIT = """package router

over_limit if {
	some field, limit in data.tenants[input.tenant].max
	input.request[field] > limit
}

allowed := [] if over_limit
else := [id | some id in object.keys(input.providers)]

decision := {
	"tenant_known": true,
	"allowed": allowed,
	"denied": {},
	"obligations": {"redact": {id: [] | some id in allowed}},
}
"""


def fresh_and_cached(policy_dir: Path, catalog: dict[str, Any]) -> tuple[Decider, Decider]:
    fresh = Decider(EmbeddedEngine(policy_dir, ENTRYPOINT), catalog, timeout_ms=1000)
    cached = Decider(EmbeddedEngine(policy_dir, ENTRYPOINT), catalog, 1000, cache_size=64)
    return fresh, cached


def comparable(decision: PolicyDecision) -> dict[str, Any]:
    return decision.model_dump()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(contexts=st.lists(routing_contexts, min_size=2, max_size=8))
async def test_cached_decisions_equal_fresh_ones_for_the_shipped_policy(
    contexts: list[RoutingContext], catalog: dict[str, Any]
) -> None:
    fresh, cached = fresh_and_cached(POLICY_DIR, catalog)
    for routing in contexts + contexts:
        assert comparable(await cached.decide(routing)) == comparable(await fresh.decide(routing))


async def test_a_field_named_only_in_policy_data_is_part_of_the_key(tmp_path: Path) -> None:
    (tmp_path / "router").mkdir()
    (tmp_path / "router" / "decision.rego").write_text(DATA_DRIVEN_LIMIT)
    (tmp_path / "tenants").mkdir()
    (tmp_path / "tenants" / "data.json").write_text('{"t": {"max": {"input_chars": 1000}}}')
    catalog = {"p1": {"adapter": "openai", "models": ["default"], "attributes": {}}}
    fresh, cached = fresh_and_cached(tmp_path, catalog)
    small = RoutingContext("t", None, (), "default", False, 10, "openai")
    large = RoutingContext("t", None, (), "default", False, 5000, "openai")
    await cached.decide(small)
    assert (await fresh.decide(large)).allowed == ()
    assert (await cached.decide(large)).allowed == ()


async def test_the_operation_is_part_of_the_key(catalog: dict[str, Any]) -> None:
    _, cached = fresh_and_cached(POLICY_DIR, catalog)
    chat = RoutingContext("paystream", None, (), "default", False, 10, "openai")
    await cached.decide(chat)
    embeddings = replace(chat, operation="embeddings")
    assert (await cached.decide(embeddings)).allowed == ()
    assert (await cached.decide(chat)).allowed != ()
