"""Policy-change impact: recorded decisions replayed against a proposed policy and catalog."""

from policy_engine.impact._render import render_impact
from policy_engine.impact._replay import Catalogs, RecordedDecision, Replayer, recorded_decision
from policy_engine.impact._report import (
    FAIL_ON,
    FailOn,
    GroupImpact,
    ImpactReport,
    RequestImpact,
    Side,
    build_impact,
    side_of_decision,
    side_of_record,
)
from policy_engine.impact._run import policy_impact, recorded_decisions

__all__ = [
    "FAIL_ON",
    "Catalogs",
    "FailOn",
    "GroupImpact",
    "ImpactReport",
    "RecordedDecision",
    "Replayer",
    "RequestImpact",
    "Side",
    "build_impact",
    "policy_impact",
    "recorded_decision",
    "recorded_decisions",
    "render_impact",
    "side_of_decision",
    "side_of_record",
]
