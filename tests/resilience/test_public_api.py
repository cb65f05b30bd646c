"""The public surface of policy_engine.resilience, pinned."""

from __future__ import annotations

import policy_engine.resilience as resilience


def test_public_names_are_exactly_these() -> None:
    assert sorted(resilience.__all__) == [
        "Combination",
        "FailureDomain",
        "PolicyFacts",
        "ResilienceReport",
        "ResilienceRow",
        "build_report",
        "combinations",
        "combined_availability",
        "evaluate",
        "failure_domains",
        "percent",
        "read_policy_facts",
        "render_table",
        "residencies",
    ]
    assert all(hasattr(resilience, name) for name in resilience.__all__)
