"""The public surface of policy_engine.resilience, pinned."""

from __future__ import annotations

import policy_engine.resilience as resilience


def test_public_names_are_exactly_these() -> None:
    assert sorted(resilience.__all__) == [
        "Combination",
        "CostReport",
        "FailureDomain",
        "PolicyFacts",
        "REPORT_CONCURRENCY",
        "ResilienceReport",
        "ResilienceRow",
        "Served",
        "Strategy",
        "Tally",
        "build_cost_report",
        "build_report",
        "combinations",
        "combined_availability",
        "evaluate",
        "failure_domains",
        "percent",
        "read_policy_facts",
        "read_served",
        "render_cost_html",
        "render_cost_table",
        "render_table",
        "residencies",
        "served_records",
    ]
    assert all(hasattr(resilience, name) for name in resilience.__all__)
