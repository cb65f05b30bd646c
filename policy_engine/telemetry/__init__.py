"""Logs and metrics."""

from policy_engine.telemetry._logging import configure_logging, get_logger
from policy_engine.telemetry._metrics import Metrics

__all__ = ["Metrics", "configure_logging", "get_logger"]
