"""Policy decisions: which providers may serve a request, and under which obligations."""

import importlib
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from policy_engine.decision._opa import OpaEngine

# Imported on first use, not with the package: the OPA REST client takes ~12 MB per
# process, and the embedded engine needs none of it.
_ON_USE = {"OpaEngine": "policy_engine.decision._opa"}


def __getattr__(name: str) -> object:
    module = _ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
