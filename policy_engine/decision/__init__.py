"""Policy decisions: which providers may serve a request, and under which obligations."""

from policy_engine.decision._decider import (
    Decider,
    DecisionCache,
    DecisionEngine,
    decider_from_settings,
    engine_from_settings,
)
from policy_engine.decision._embedded import EmbeddedEngine, PolicySource
from policy_engine.decision._models import Constraints, Obligations, PolicyDecision, parse_decision
from policy_engine.decision._opa import OpaEngine

__all__ = [
    "Constraints",
    "Decider",
    "DecisionCache",
    "DecisionEngine",
    "EmbeddedEngine",
    "Obligations",
    "OpaEngine",
    "PolicyDecision",
    "PolicySource",
    "decider_from_settings",
    "engine_from_settings",
    "parse_decision",
]
