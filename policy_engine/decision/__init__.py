"""Policy decisions: which providers may serve a request, and under which obligations."""

from policy_engine.decision._catalog import (
    CATALOG_DIR,
    catalog_revision,
    keep_catalog,
    read_catalog,
)
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
    "CATALOG_DIR",
    "Constraints",
    "Decider",
    "DecisionCache",
    "DecisionEngine",
    "EmbeddedEngine",
    "Obligations",
    "OpaEngine",
    "PolicyDecision",
    "PolicySource",
    "catalog_revision",
    "decider_from_settings",
    "engine_from_settings",
    "keep_catalog",
    "parse_decision",
    "read_catalog",
]
