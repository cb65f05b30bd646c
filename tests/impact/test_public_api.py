"""The impact package's public surface is deliberate: this pins it."""

from __future__ import annotations

import policy_engine.impact


def test_the_impact_package_exports_the_replay_the_report_and_its_rendering() -> None:
    assert sorted(policy_engine.impact.__all__) == [
        "Catalogs",
        "FAIL_ON",
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
