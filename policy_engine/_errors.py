"""The sidecar's one error tree.

Every error a client can see is a `PolicyEngineError` with an HTTP status and a
protocol-neutral `error_type`; each inbound protocol renders it in its own wire shape
in exactly one place. `message` is safe to show and to log: it never holds request
content, PII or secrets (provider messages, which may echo content, travel separately
in `ProviderRejected.client_message` and are never logged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class PolicyEngineError(Exception):
    status: int = 500
    error_type: str = "api_error"
    retry_after_s: float | None = None  # sent as Retry-After when set
    param: str | None = None  # the request field at fault, where one is

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def client_message(self) -> str:
        return self.message


class InternalError(PolicyEngineError):
    """A bug: something no other error describes. Still answered and audited."""


class ConfigError(PolicyEngineError):
    """The config file is missing or invalid; startup stops."""


class BadRequest(PolicyEngineError):
    status = 400
    error_type = "invalid_request"

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


class FeatureUnavailable(BadRequest):
    """No allowed provider can honour a feature the request asks for; `param` names
    the field (README "Request fields")."""


class BodyTooLarge(PolicyEngineError):
    status = 413
    error_type = "request_too_large"


class RequestTimeout(PolicyEngineError):
    """The client did not send its whole request body within server.body_timeout_s."""

    status = 408
    error_type = "timeout"


class UnknownModel(PolicyEngineError):
    status = 404
    error_type = "not_found"


class PolicyUnavailable(PolicyEngineError):
    """The policy could not be evaluated; we fail closed and send nothing."""

    status = 503
    error_type = "policy_unavailable"

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(f"policy decision unavailable ({cause}): {detail}")
        self.cause = cause


class PolicyDenied(PolicyEngineError):
    """The policy allows no provider that serves the requested model."""

    status = 403
    error_type = "policy_denied"

    def __init__(self, message: str, denied: Mapping[str, Sequence[str]]) -> None:
        super().__init__(message)
        self.denied = denied


class ObligationUnmet(PolicyEngineError):
    """The decision's obligations cannot be met here (e.g. a type no detector finds)."""

    status = 503
    error_type = "policy_unavailable"


class ProvidersUnavailable(PolicyEngineError):
    """Every allowed provider failed or was skipped (open circuit, deadline)."""

    status = 503
    error_type = "providers_unavailable"


class LimitExceeded(PolicyEngineError):
    """A tenant's or caller's rate limit or budget is used up, fleet-wide."""

    status = 429
    error_type = "rate_limit"

    def __init__(self, message: str, limit: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.limit = limit  # "tenant:tokens_per_minute"
        self.retry_after_s = retry_after_s


class LimitsUnavailable(PolicyEngineError):
    """A limit could not be checked (shared state unreachable) and is set to fail closed."""

    status = 503
    error_type = "api_error"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AuditWriteFailed(PolicyEngineError):
    """The audit record could not be made durable and the log fails closed."""

    status = 503
    error_type = "api_error"


class ProviderRejected(PolicyEngineError):
    """A provider refused the request itself (invalid request, content policy): no fallback.

    Its status is always an error status: a provider that refused under 200 (a Gemini
    prompt block, an error event opening a stream) is answered 400, never 200.
    """

    def __init__(
        self,
        status: int | None,
        error_type: str,
        message: str,
        provider_message: str,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status if status is not None and 400 <= status <= 599 else 400
        self.error_type = error_type
        self.param = param
        self._provider_message = provider_message

    @property
    def client_message(self) -> str:
        return self._provider_message or self.message
