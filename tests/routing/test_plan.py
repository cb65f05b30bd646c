"""The route plan: allowed ∩ has-model ∩ circuit-closed, ordered by preference then strategy."""

from __future__ import annotations

import random
from typing import Any

import pytest

from adapters import Feature
from policy_engine._config import ProviderConfig
from policy_engine.decision import Obligations, PolicyDecision
from policy_engine.routing import (
    CircuitBreaker,
    ProviderHealth,
    backoff_delay,
    next_candidate,
    plan_route,
    served_by,
    skipped_summary,
    unmet_needs,
)


def provider(pid: str, **attributes: Any) -> ProviderConfig:
    priority = attributes.pop("priority", 100)
    models = attributes.pop("models", {"default": f"{pid}-model"})
    adapter = attributes.pop("adapter", "openai")
    return ProviderConfig(
        id=pid,
        adapter=adapter,
        base_url=f"http://{pid}.invalid/v1",
        models=models,
        priority=priority,
        attributes=attributes,
    )


def decision(allowed: list[str], preference: tuple[str, ...] = ()) -> PolicyDecision:
    return PolicyDecision(
        revision="r",
        tenant_known=True,
        allowed=tuple(allowed),
        denied={},
        obligations=Obligations(redact={p: ("SECRET",) for p in allowed}),
        preference=preference,
    )


def health(*providers: ProviderConfig) -> dict[str, ProviderHealth]:
    return {p.id: ProviderHealth(CircuitBreaker(1, 60)) for p in providers}


def test_only_allowed_providers_that_map_the_alias_are_planned() -> None:
    a, b = provider("a"), provider("b")
    c = provider("c", models={"default": "x", "smart": "y"})
    plan = plan_route(decision(["a", "c"]), "smart", [a, b, c], health(a, b, c), "priority")
    assert [x.id for x in plan] == ["c"]
    assert plan[0].model == "y"


def test_a_provider_with_an_open_circuit_is_left_out() -> None:
    a, b = provider("a"), provider("b")
    states = health(a, b)
    states["a"].breaker.record_failure()
    plan = plan_route(decision(["a", "b"]), "default", [a, b], states, "priority")
    assert [x.id for x in plan] == ["b"]


def test_the_decisions_preference_comes_before_the_strategy() -> None:
    a, b, c = provider("a", priority=1), provider("b", priority=2), provider("c", priority=3)
    plan = plan_route(
        decision(["a", "b", "c"], ("c",)), "default", [a, b, c], health(a, b, c), "priority"
    )
    assert [x.id for x in plan] == ["c", "a", "b"]


def test_price_strategy_orders_by_input_plus_output_price_unknown_last() -> None:
    cheap = provider("cheap", price_per_1m_input=0.1, price_per_1m_output=0.2)
    dear = provider("dear", price_per_1m_input=1, price_per_1m_output=2)
    unknown = provider("unknown")
    providers = [unknown, dear, cheap]
    plan = plan_route(
        decision(["cheap", "dear", "unknown"]), "default", providers, health(*providers), "price"
    )
    assert [x.id for x in plan] == ["cheap", "dear", "unknown"]


def test_latency_strategy_orders_by_observed_latency() -> None:
    slow, fast = provider("slow"), provider("fast")
    states = health(slow, fast)
    states["slow"].latency.observe(0.5)
    states["fast"].latency.observe(0.05)
    plan = plan_route(decision(["slow", "fast"]), "default", [slow, fast], states, "latency")
    assert [x.id for x in plan] == ["fast", "slow"]


def test_a_denied_provider_the_obligations_also_name_is_not_planned() -> None:
    a, b = provider("a"), provider("b")
    both_named = PolicyDecision(
        revision="r",
        tenant_known=True,
        allowed=("a",),
        denied={"b": ("residency: tenant requires eu",)},
        obligations=Obligations(redact={"a": ("SECRET",), "b": ("SECRET",)}),
    )
    plan = plan_route(both_named, "default", [a, b], health(a, b), "priority")
    assert [x.id for x in plan] == ["a"]


def test_redaction_obligations_travel_with_each_candidate() -> None:
    a = provider("a")
    plan = plan_route(decision(["a"]), "default", [a], health(a), "priority")
    assert plan[0].redact == frozenset({"SECRET"})


def test_after_a_failure_a_candidate_in_another_cloud_and_region_goes_first() -> None:
    a = provider("a", cloud="aws", region="us-east-1")
    b = provider("b", cloud="aws", region="us-east-1")
    c = provider("c", cloud="gcp", region="us-central1")
    plan = plan_route(decision(["a", "b", "c"]), "default", [a, b, c], health(a, b, c), "priority")
    assert next_candidate(plan[1:], plan[:1]).id == "c"
    assert next_candidate(plan[1:], []).id == "b"


@pytest.mark.parametrize("round_index", [0, 1, 2, 5])
def test_backoff_is_full_jitter_below_the_exponential_ceiling(round_index: int) -> None:
    rng = random.Random(7)
    for _ in range(100):
        delay = backoff_delay(round_index, 0.1, 1.0, None, rng)
        assert 0 <= delay <= min(1.0, 0.1 * 2**round_index)


def test_backoff_never_undercuts_retry_after() -> None:
    assert backoff_delay(0, 0.1, 1.0, 3.0, random.Random(1)) == 3.0


def test_a_provider_model_name_is_served_as_is_by_the_providers_that_map_it() -> None:
    a = provider("a", models={"default": "gpt-4o-mini", "smart": "gpt-4o"})
    b = provider("b", models={"default": "gpt-4o"})
    c = provider("c", models={"default": "claude"})
    plan = plan_route(decision(["a", "b", "c"]), "gpt-4o", [a, b, c], health(a, b, c), "priority")
    assert [(x.id, x.model) for x in plan] == [("a", "gpt-4o"), ("b", "gpt-4o")]


def test_a_provider_model_name_is_still_limited_to_the_allowed_set() -> None:
    a = provider("a", models={"default": "gpt-4o"})
    b = provider("b", models={"default": "gpt-4o"})
    plan = plan_route(decision(["b"]), "gpt-4o", [a, b], health(a, b), "priority")
    assert [x.id for x in plan] == ["b"]


def test_an_alias_wins_over_a_provider_model_of_the_same_name() -> None:
    # "smart" is an alias of a and the provider model of b: the alias means what a maps it to.
    a = provider("a", models={"default": "x", "smart": "big"})
    b = provider("b", models={"default": "smart"})
    plan = plan_route(decision(["a", "b"]), "smart", [a, b], health(a, b), "priority")
    assert [(x.id, x.model) for x in plan] == [("a", "big")]


def test_an_alias_whose_providers_are_all_denied_does_not_fall_back_to_provider_models() -> None:
    a = provider("a", models={"default": "x", "smart": "big"})
    b = provider("b", models={"default": "smart"})
    assert plan_route(decision(["b"]), "smart", [a, b], health(a, b), "priority") == []


def test_served_by_names_each_provider_and_the_model_it_is_sent() -> None:
    a = provider("a", models={"default": "gpt-4o-mini", "smart": "gpt-4o"})
    b = provider("b", models={"default": "gpt-4o"})
    assert served_by([a, b], "smart") == {"a": "gpt-4o"}
    assert served_by([a, b], "gpt-4o") == {"a": "gpt-4o", "b": "gpt-4o"}
    assert served_by([a, b], "gpt-5") == {}


def test_a_provider_that_cannot_honour_a_needed_feature_is_not_a_candidate() -> None:
    a, b = provider("a", adapter="anthropic"), provider("b", adapter="gemini")
    needs = frozenset({Feature.JSON_OBJECT})
    plan = plan_route(decision(["a", "b"]), "default", [a, b], health(a, b), "priority", needs)
    assert [x.id for x in plan] == ["b"]


def test_a_provider_must_honour_every_need_at_once() -> None:
    a, b = provider("a", adapter="anthropic"), provider("b", adapter="gemini")
    needs = frozenset({Feature.TOP_K, Feature.LOGIT_BIAS})
    assert (
        plan_route(decision(["a", "b"]), "default", [a, b], health(a, b), "priority", needs) == []
    )


def test_the_skipped_candidates_are_named_with_what_they_lack() -> None:
    a, b = provider("a", adapter="anthropic"), provider("b", adapter="gemini")
    c = provider("c")
    needs = frozenset({Feature.TOP_K, Feature.SEED})
    skipped = unmet_needs(decision(["a", "b", "c"]), "default", [a, b, c], needs)
    assert skipped == {"a": [Feature.SEED], "c": [Feature.TOP_K]}
    assert skipped_summary(skipped) == "a cannot honour seed; c cannot honour top_k"


def test_a_provider_the_policy_denies_is_never_reported_as_skipped() -> None:
    a, b = provider("a", adapter="anthropic"), provider("b", adapter="gemini")
    needs = frozenset({Feature.SEED})
    assert unmet_needs(decision(["b"]), "default", [a, b], needs) == {}


def test_a_plain_request_needs_nothing_and_skips_nobody() -> None:
    a = provider("a", adapter="anthropic")
    assert unmet_needs(decision(["a"]), "default", [a], frozenset()) == {}
