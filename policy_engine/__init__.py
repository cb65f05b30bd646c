"""policy-engine: a compliance-aware LLM routing sidecar.

The top level re-exports the config and the error tree; each stage is a subpackage
with its own public names (`decision`, `routing`, `redaction`, `audit`, `pipeline`,
`api`, `telemetry`, `resilience`, `fleet`).
"""

from importlib.metadata import version

# First, for its side effect: it checks the compiled modules before any is imported.
import adapters._native  # noqa: F401
from policy_engine._config import Settings, load_config, parse_config
from policy_engine._context import RoutingContext
from policy_engine._errors import (
    AuditWriteFailed,
    BadRequest,
    BodyTooLarge,
    ConfigError,
    InternalError,
    LimitExceeded,
    LimitsUnavailable,
    ObligationUnmet,
    PolicyDenied,
    PolicyEngineError,
    PolicyUnavailable,
    ProviderRejected,
    ProvidersUnavailable,
    UnknownModel,
)

__version__ = version("policy-engine")

__all__ = [
    "AuditWriteFailed",
    "BadRequest",
    "BodyTooLarge",
    "ConfigError",
    "InternalError",
    "LimitExceeded",
    "LimitsUnavailable",
    "ObligationUnmet",
    "PolicyDenied",
    "PolicyEngineError",
    "PolicyUnavailable",
    "ProviderRejected",
    "ProvidersUnavailable",
    "RoutingContext",
    "Settings",
    "UnknownModel",
    "__version__",
    "load_config",
    "parse_config",
]
