"""The resilience report: where a tenant's requests could still go when providers fail;
and the cost report: what that traffic cost, and what each resilience strategy would."""

from policy_engine.resilience._cost import (
    CostReport,
    Served,
    Strategy,
    Tally,
    build_cost_report,
)
from policy_engine.resilience._cost_html import render_cost_html
from policy_engine.resilience._cost_read import read_served, served_records
from policy_engine.resilience._cost_render import render_cost_table
from policy_engine.resilience._domains import (
    FailureDomain,
    combined_availability,
    failure_domains,
    percent,
)
from policy_engine.resilience._facts import PolicyFacts, read_policy_facts
from policy_engine.resilience._render import render_table
from policy_engine.resilience._report import (
    REPORT_CONCURRENCY,
    Combination,
    ResilienceReport,
    ResilienceRow,
    build_report,
    combinations,
    evaluate,
    residencies,
)

__all__ = [
    "REPORT_CONCURRENCY",
    "Combination",
    "CostReport",
    "FailureDomain",
    "PolicyFacts",
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
