"""The neutral error types the sidecar reports, and their names in each client protocol."""

from __future__ import annotations

from enum import StrEnum


class ErrorType(StrEnum):
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    REQUEST_TOO_LARGE = "request_too_large"
    RATE_LIMIT = "rate_limit"
    API_ERROR = "api_error"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"
    POLICY_DENIED = "policy_denied"
    POLICY_UNAVAILABLE = "policy_unavailable"
    PROVIDERS_UNAVAILABLE = "providers_unavailable"
    CONTENT_FILTER = "content_filter"


# OpenAI's `type` is coarse (its SDK picks the exception class from the status), so
# the OpenAI body also carries the neutral name in `code`.
OPENAI_TYPES: dict[ErrorType, str] = {
    ErrorType.INVALID_REQUEST: "invalid_request_error",
    ErrorType.AUTHENTICATION: "authentication_error",
    ErrorType.PERMISSION: "permission_error",
    ErrorType.NOT_FOUND: "not_found_error",
    ErrorType.REQUEST_TOO_LARGE: "invalid_request_error",
    ErrorType.RATE_LIMIT: "rate_limit_error",
    ErrorType.API_ERROR: "api_error",
    ErrorType.OVERLOADED: "server_error",
    ErrorType.TIMEOUT: "server_error",
    ErrorType.POLICY_DENIED: "permission_error",
    ErrorType.POLICY_UNAVAILABLE: "server_error",
    ErrorType.PROVIDERS_UNAVAILABLE: "server_error",
    ErrorType.CONTENT_FILTER: "invalid_request_error",
}

# Anthropic's documented error types; the sidecar's own failures map to the closest.
ANTHROPIC_TYPES: dict[ErrorType, str] = {
    ErrorType.INVALID_REQUEST: "invalid_request_error",
    ErrorType.AUTHENTICATION: "authentication_error",
    ErrorType.PERMISSION: "permission_error",
    ErrorType.NOT_FOUND: "not_found_error",
    ErrorType.REQUEST_TOO_LARGE: "request_too_large",
    ErrorType.RATE_LIMIT: "rate_limit_error",
    ErrorType.API_ERROR: "api_error",
    ErrorType.OVERLOADED: "overloaded_error",
    ErrorType.TIMEOUT: "timeout_error",
    ErrorType.POLICY_DENIED: "permission_error",
    ErrorType.POLICY_UNAVAILABLE: "api_error",
    ErrorType.PROVIDERS_UNAVAILABLE: "api_error",
    ErrorType.CONTENT_FILTER: "invalid_request_error",
}
