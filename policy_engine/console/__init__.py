"""The read-only web console over the audit log, the policies and the provider catalog."""

from policy_engine.console._app import create_console_app
from policy_engine.console._console import Console, Proposal, RequestView
from policy_engine.console._index import Damage, LogIndex, rule_family
from policy_engine.console._queries import (
    INTENT_ONLY,
    DecisionPage,
    DecisionRow,
    Facets,
    Filters,
    RevisionSeen,
    Timeline,
    decisions,
    facets,
    revisions,
    timeline,
)
from policy_engine.console._sessions import Sessions
from policy_engine.console._verify import Check, LogStatus, Verifier

__all__ = [
    "INTENT_ONLY",
    "Check",
    "Console",
    "Damage",
    "DecisionPage",
    "DecisionRow",
    "Facets",
    "Filters",
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
