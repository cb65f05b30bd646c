"""How provider codecs read error answers and answers of the wrong shape (no sockets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest

from adapters import ProviderError, ProviderErrorKind, provider_codec

ADAPTERS = ["openai", "azure_openai", "anthropic", "gemini"]


def error(
    adapter: str, status: int, body: object, headers: dict[str, str] | None = None
) -> ProviderError:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return provider_codec(adapter).decode_error(status, headers or {}, raw)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_retry_after_seconds_header_is_parsed(adapter: str) -> None:
    assert error(adapter, 429, {}, {"Retry-After": "12"}).retry_after == 12


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_retry_after_http_date_header_is_parsed(adapter: str) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    wait = error(adapter, 503, {}, {"retry-after": when}).retry_after
    assert wait is not None and 25 <= wait <= 30


def test_retry_after_in_the_past_means_now() -> None:
    assert (
        error("openai", 429, {}, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}).retry_after == 0
    )


def test_azure_retry_after_ms_is_preferred() -> None:
    wait = error(
        "azure_openai", 429, {}, {"retry-after-ms": "1500", "retry-after": "2"}
    ).retry_after
    assert wait == 1.5


def test_openai_rate_limit_reset_headers_are_a_fallback() -> None:
    """OpenAI documents x-ratelimit-reset-requests / -tokens as durations like "1s", "6m0s"."""
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}
    assert error("openai", 429, {}, headers).retry_after == 360


def test_an_unreadable_retry_after_is_ignored() -> None:
    assert error("openai", 429, {}, {"retry-after": "soon"}).retry_after is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ProviderErrorKind.INVALID_REQUEST),
        (401, ProviderErrorKind.AUTH),
        (403, ProviderErrorKind.AUTH),
        (404, ProviderErrorKind.INVALID_REQUEST),
        (413, ProviderErrorKind.INVALID_REQUEST),
        (422, ProviderErrorKind.INVALID_REQUEST),
        (429, ProviderErrorKind.RATE_LIMITED),
        (500, ProviderErrorKind.SERVER_ERROR),
        (503, ProviderErrorKind.SERVER_ERROR),
        (504, ProviderErrorKind.TIMEOUT),
        (529, ProviderErrorKind.OVERLOADED),
    ],
)
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_non_json_error_bodies_fall_back_to_the_status(
    adapter: str, status: int, kind: ProviderErrorKind
) -> None:
    failure = error(adapter, status, b"<html>Bad Gateway</html>")
    assert failure.kind is kind
    assert failure.status == status
    assert "Bad Gateway" in failure.message


def test_vllm_top_level_error_object_is_read() -> None:
    body = {"object": "error", "message": "model not found", "type": "NotFoundError", "code": 404}
    failure = error("openai", 404, body)
    assert (failure.kind, failure.message) == (ProviderErrorKind.INVALID_REQUEST, "model not found")


def test_ollama_string_error_is_read() -> None:
    assert error("openai", 500, {"error": "model crashed"}).message == "model crashed"


def test_openai_content_policy_violation_is_a_content_filter() -> None:
    body = {
        "error": {
            "message": "rejected",
            "type": "invalid_request_error",
            "param": None,
            "code": "content_policy_violation",
        }
    }
    assert error("openai", 400, body).kind is ProviderErrorKind.CONTENT_FILTER


def test_openai_error_param_is_kept() -> None:
    body = {
        "error": {
            "message": "Invalid value for 'temperature'.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value",
        }
    }
    assert error("openai", 400, body).param == "temperature"


def test_gemini_bad_request_field_violation_names_the_param() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "Invalid value at 'generation_config.temperature'",
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        {"field": "generation_config.temperature", "description": "too high"}
                    ],
                }
            ],
        }
    }
    assert error("gemini", 400, body).param == "generation_config.temperature"


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", ProviderErrorKind.OVERLOADED),
        ("timeout_error", ProviderErrorKind.TIMEOUT),
        ("request_too_large", ProviderErrorKind.INVALID_REQUEST),
        ("permission_error", ProviderErrorKind.AUTH),
    ],
)
def test_anthropic_error_type_decides_the_kind(error_type: str, kind: ProviderErrorKind) -> None:
    failure = error(
        "anthropic", 500, {"type": "error", "error": {"type": error_type, "message": "m"}}
    )
    assert failure.kind is kind
    assert failure.provider_code == error_type


def test_gemini_invalid_api_key_is_an_auth_error_despite_400() -> None:
    body = {
        "error": {
            "code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            ],
        }
    }
    assert error("gemini", 400, body).kind is ProviderErrorKind.AUTH


def test_gemini_retry_delay_comes_from_retry_info() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
        }
    }
    assert error("gemini", 429, body).retry_after == 37


@pytest.mark.parametrize(
    ("adapter", "body"),
    [
        ("openai", {"object": "list", "data": []}),
        ("openai", {"object": "chat.completion", "choices": []}),
        ("anthropic", {"type": "completion", "completion": "hi"}),
        ("gemini", {"candidates": []}),
        ("gemini", [1, 2]),
    ],
)
def test_a_200_of_the_wrong_shape_is_malformed(adapter: str, body: object) -> None:
    with pytest.raises(ProviderError) as caught:
        provider_codec(adapter).decode_response(orjson.dumps(body))
    assert caught.value.kind is ProviderErrorKind.MALFORMED_RESPONSE


def test_gemini_safety_finish_is_a_content_filter_finish() -> None:
    body = {"candidates": [{"content": {"parts": [], "role": "model"}, "finishReason": "SAFETY"}]}
    assert (
        provider_codec("gemini").decode_response(orjson.dumps(body)).finish_reason
        == "content_filter"
    )


def test_gemini_thought_parts_are_not_answer_text() -> None:
    parts = [{"text": "thinking...", "thought": True}, {"text": "Answer"}]
    body = {"candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": "STOP"}]}
    assert [
        p.text for p in provider_codec("gemini").decode_response(orjson.dumps(body)).content
    ] == ["Answer"]
