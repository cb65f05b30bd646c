"""The sidecar's HTTP API."""

from policy_engine.api._app import SidecarApp, create_app
from policy_engine.api._guard import ClientLimits, GuardedHttpToolsProtocol
from policy_engine.api._sidecar import Sidecar

__all__ = ["ClientLimits", "GuardedHttpToolsProtocol", "Sidecar", "SidecarApp", "create_app"]
