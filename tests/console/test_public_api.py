"""The console package's public surface is deliberate: this pins it."""

from __future__ import annotations

import policy_engine.console


def test_the_console_exports_its_app_model_index_and_queries() -> None:
    assert sorted(policy_engine.console.__all__) == [
        "Check",
        "Console",
        "Damage",
        "DecisionPage",
        "DecisionRow",
        "Facets",
        "Filters",
        "INTENT_ONLY",
        "LogIndex",
        "LogStatus",
        "Proposal",
        "RequestView",
        "RevisionSeen",
        "Sessions",
        "Timeline",
        "Verifier",
        "create_console_app",
        "decisions",
        "facets",
        "revisions",
        "rule_family",
        "timeline",
    ]
