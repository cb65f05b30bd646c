"""What Bedrock's answers share, plain and streamed: stop reasons, error names, usage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters import _validate as v
from adapters._base import ProviderErrorKind
from adapters._http import header, kind_for_status
from adapters._model import FinishReason, Usage

STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}
# Bedrock's error shapes (its service model), by name; the stream spells them in
# lowerCamelCase, the `x-amzn-ErrorType` header in UpperCamelCase.
_ERROR_KINDS = {
    "throttlingexception": ProviderErrorKind.RATE_LIMITED,
    "servicequotaexceededexception": ProviderErrorKind.RATE_LIMITED,
    "serviceunavailableexception": ProviderErrorKind.OVERLOADED,
    "modelnotreadyexception": ProviderErrorKind.OVERLOADED,
    "modeltimeoutexception": ProviderErrorKind.TIMEOUT,
    "internalserverexception": ProviderErrorKind.SERVER_ERROR,
    "modelerrorexception": ProviderErrorKind.SERVER_ERROR,
    "modelstreamerrorexception": ProviderErrorKind.SERVER_ERROR,
    "validationexception": ProviderErrorKind.INVALID_REQUEST,
    "resourcenotfoundexception": ProviderErrorKind.INVALID_REQUEST,
    "accessdeniedexception": ProviderErrorKind.AUTH,
    # What AWS answers for the credentials themselves, before Bedrock sees the call.
    "unrecognizedclientexception": ProviderErrorKind.AUTH,
    "invalidsignatureexception": ProviderErrorKind.AUTH,
    "incompletesignatureexception": ProviderErrorKind.AUTH,
    "expiredtokenexception": ProviderErrorKind.AUTH,
    "missingauthenticationtokenexception": ProviderErrorKind.AUTH,
    "invalidclienttokenidexception": ProviderErrorKind.AUTH,
}


def error_kind(code: str, status: int | None, message: str) -> ProviderErrorKind:
    kind = _ERROR_KINDS.get(code.lower())
    if kind is not None:
        return kind
    return kind_for_status(status, message) if status else ProviderErrorKind.SERVER_ERROR


def error_code(headers: Mapping[str, str], obj: Mapping[str, Any]) -> str:
    """The error's shape name, as botocore reads it: the header first, then the body's
    `__type` or `code` (either may carry a namespace before `#` or a URL after `:`)."""
    raw = header(headers, "x-amzn-errortype") or v.error_text(obj.get("__type"))
    raw = raw or v.error_text(obj.get("code"))
    return raw.split(":", 1)[0].rsplit("#", 1)[-1][: v.MAX_ID_CHARS]


def usage(value: Any) -> Usage:
    usage = v.answer_object(value, "usage")
    return Usage(
        v.token_count(usage.get("inputTokens"), "usage.inputTokens"),
        v.token_count(usage.get("outputTokens"), "usage.outputTokens"),
    )
