"""The sidecar's HTTP API."""

from policy_engine.api._app import create_app
from policy_engine.api._sidecar import Sidecar

__all__ = ["Sidecar", "create_app"]
