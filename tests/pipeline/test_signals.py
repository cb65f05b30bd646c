"""The honest signals, case by case: which model answered and why it was not the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters import Feature
from policy_engine._config import ProviderConfig, Settings, parse_config
from policy_engine.decision import PolicyDecision
from policy_engine.pipeline._signals import (
    CIRCUIT_OPEN,
    excluded,
    fallback_reason,
    first_choice,
    routed_model,
)
from policy_engine.routing import (
    Attempt,
    Candidate,
    CircuitBreaker,
    ProviderHealth,
    plan_route,
)

NO_NEEDS: frozenset[Feature] = frozenset()


def settings(tmp_path: Path, strategy: str = "priority", first_adapter: str = "openai") -> Settings:
    def provider(
        pid: str, priority: int, model: str, facts: dict[str, object]
    ) -> dict[str, object]:
        return {
            "id": pid,
            "adapter": first_adapter if pid == "alpha" else "openai",
            "base_url": f"https://{pid}.example/v1",
            "models": {"default": model},
            "priority": priority,
            "model_attributes": {model: facts} if facts else {},
        }

    return parse_config(
        {
            "routing": {"strategy": strategy},
            "providers": [
                provider("alpha", 1, "prod-4o", {"model": "gpt-4o"}),
                provider("bravo", 2, "claude-sonnet", {}),
                provider("charlie", 3, "llama", {}),
            ],
            "audit": {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k.pem")},
        }
    )


def decision(allowed: tuple[str, ...], denied: dict[str, tuple[str, ...]]) -> PolicyDecision:
    return PolicyDecision(
        revision="r1",
        tenant_known=True,
        allowed=allowed,
        denied=denied,
        obligations={"redact": {pid: () for pid in allowed}},  # type: ignore[arg-type]
    )


def health(
    providers: list[ProviderConfig], open_ids: tuple[str, ...] = ()
) -> dict[str, ProviderHealth]:
    table = {p.id: ProviderHealth(CircuitBreaker(1, 600)) for p in providers}
    for pid in open_ids:
        table[pid].breaker.record_failure()
    return table


def plan(s: Settings, open_ids: tuple[str, ...] = ()) -> list[Candidate]:
    allowed = decision(("alpha", "bravo", "charlie"), {})
    return plan_route(allowed, "default", s.providers, health(s.providers, open_ids), "priority")


def test_the_routed_model_is_its_identity_when_stated(tmp_path: Path) -> None:
    alpha, bravo, _ = plan(settings(tmp_path))
    assert routed_model(alpha) == "gpt-4o"  # the deployment prod-4o serves gpt-4o
    assert routed_model(bravo) == "claude-sonnet"  # no identity stated: the provider's name


def test_an_answer_from_the_first_candidate_is_no_fallback(tmp_path: Path) -> None:
    route = plan(settings(tmp_path))
    attempts = [Attempt("alpha", "ok")]
    assert fallback_reason(route, attempts, route[0], None) is None


@pytest.mark.parametrize("kind", ["rate_limited", "server_error", "timeout", "content_filter"])
def test_a_fallback_names_how_the_first_candidate_failed(tmp_path: Path, kind: str) -> None:
    route = plan(settings(tmp_path))
    attempts = [Attempt("alpha", kind), Attempt("bravo", "ok")]
    assert fallback_reason(route, attempts, route[1], None) == kind


def test_a_later_failure_of_another_candidate_does_not_rename_the_reason(tmp_path: Path) -> None:
    route = plan(settings(tmp_path))
    attempts = [Attempt("alpha", "timeout"), Attempt("bravo", "overloaded"), Attempt("charlie")]
    assert fallback_reason(route, attempts, route[2], None) == "timeout"


def test_a_first_candidate_never_tried_counts_as_an_open_circuit(tmp_path: Path) -> None:
    route = plan(settings(tmp_path))
    assert fallback_reason(route, [Attempt("bravo", "ok")], route[1], None) == CIRCUIT_OPEN


def test_the_plans_first_is_a_fallback_when_the_first_choice_was_left_out(
    tmp_path: Path,
) -> None:
    route = plan(settings(tmp_path), open_ids=("alpha",))
    assert route[0].id == "bravo"
    reason = fallback_reason(route, [Attempt("bravo", "ok")], route[0], "alpha")
    assert reason == CIRCUIT_OPEN


def test_first_choice_is_none_while_every_circuit_is_closed(tmp_path: Path) -> None:
    s = settings(tmp_path)
    allowed = decision(("alpha", "bravo", "charlie"), {})
    table = health(s.providers)
    assert first_choice(allowed, "default", s.providers, table, s.routing, NO_NEEDS) is None


def test_first_choice_names_the_open_provider_that_would_have_come_first(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path)
    allowed = decision(("alpha", "bravo", "charlie"), {})
    table = health(s.providers, open_ids=("alpha",))
    assert first_choice(allowed, "default", s.providers, table, s.routing, NO_NEEDS) == "alpha"


def test_an_open_circuit_behind_the_first_choice_is_no_fallback(tmp_path: Path) -> None:
    s = settings(tmp_path)
    allowed = decision(("alpha", "bravo", "charlie"), {})
    table = health(s.providers, open_ids=("charlie",))
    assert first_choice(allowed, "default", s.providers, table, s.routing, NO_NEEDS) is None


def test_an_open_circuit_of_a_provider_that_cannot_honour_the_request_is_no_fallback(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path, first_adapter="gemini")  # Gemini has no logit_bias
    allowed = decision(("alpha", "bravo", "charlie"), {})
    table = health(s.providers, open_ids=("alpha",))
    needs = frozenset({Feature.LOGIT_BIAS})
    assert first_choice(allowed, "default", s.providers, table, s.routing, needs) is None
    assert first_choice(allowed, "default", s.providers, table, s.routing, NO_NEEDS) == "alpha"


def test_an_open_circuit_of_a_denied_provider_is_no_fallback(tmp_path: Path) -> None:
    s = settings(tmp_path)
    denied = decision(("bravo", "charlie"), {"alpha": ("residency: no",)})
    table = health(s.providers, open_ids=("alpha",))
    assert first_choice(denied, "default", s.providers, table, s.routing, NO_NEEDS) is None


def test_excluded_lists_the_denied_providers_serving_the_alias_with_reasons(
    tmp_path: Path,
) -> None:
    s = settings(tmp_path)
    denied = decision(("alpha",), {"bravo": ("quality: below 85",), "charlie": ("a", "b")})
    assert excluded(denied, "default", s.providers) == (
        "; not allowed by the policy: bravo (quality: below 85), charlie (a; b)"
    )
    assert excluded(denied, "smart", s.providers) == ""
