"""The resilience report: where a tenant's requests could still go when providers fail."""

from policy_engine.resilience._domains import (
    FailureDomain,
    combined_availability,
    failure_domains,
    percent,
)
from policy_engine.resilience._facts import PolicyFacts, read_policy_facts
from policy_engine.resilience._render import render_table
from policy_engine.resilience._report import (
    Combination,
    ResilienceReport,
    ResilienceRow,
    build_report,
    combinations,
    evaluate,
    residencies,
)

__all__ = [
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
