"""The package's top-level surface is deliberate: this pins it."""

from __future__ import annotations

import policy_engine


def test_the_top_level_exports_exactly_the_config_context_and_error_tree() -> None:
    assert sorted(policy_engine.__all__) == sorted(
        [
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
    )


def test_every_client_visible_error_is_one_tree_with_a_status_and_a_type() -> None:
    for name in policy_engine.__all__:
        value = getattr(policy_engine, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, policy_engine.PolicyEngineError)
            assert isinstance(value.status, int) and isinstance(value.error_type, str)
