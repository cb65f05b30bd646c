"""Google Gemini API (v1beta generateContent / streamGenerateContent?alt=sse)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from tests.fakes._behaviours import (
    ContentFilter,
    ErrorBehaviour,
    InvalidRequest,
    Ok,
    Overloaded,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
)
from tests.fakes._dialect import (
    JsonAsked,
    Reply,
    Route,
    finish_of,
    json_reply,
    pieces,
    sse,
    tokens_of,
    under_200,
)
from tests.fakes._json_mode import unknown_fields

_PATH = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent)$")
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "tool_calls": "STOP", "content_filter": "SAFETY"}
_STATUS = {500: "INTERNAL", 502: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def _error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return json_reply(code, {"error": error})


_FIELDS = frozenset(
    {
        "contents", "systemInstruction", "tools", "toolConfig", "safetySettings",
        "generationConfig", "cachedContent",
    }
)  # fmt: skip
# GenerationConfig (v1beta).
_CONFIG_FIELDS = frozenset(
    {
        "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
        "responseModalities", "candidateCount", "maxOutputTokens", "temperature", "topP",
        "topK", "seed", "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
        "enableEnhancedCivicAnswers", "speechConfig", "thinkingConfig", "imageConfig",
        "mediaResolution",
    }
)  # fmt: skip


def _unknown(name: str, where: str) -> Reply:
    message = (
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    )
    return _error(
        400,
        "INVALID_ARGUMENT",
        message,
        [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": where, "description": message}],
            }
        ],
    )


def _logprobs_result(text: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
    config = request.get("generationConfig") or {}
    if config.get("responseLogprobs") is not True:
        return None
    top = int(config.get("logprobs") or 0)
    tokens = tokens_of(text)
    return {
        "topCandidates": [
            {
                "candidates": [
                    {"token": t if n == 0 else f"{t}~{n}", "logProbability": -0.25 * (n + 1)}
                    for n in range(top)
                ]
            }
            for t in tokens
        ],
        "chosenCandidates": [{"token": t, "logProbability": -0.25} for t in tokens],
    }


class GeminiDialect:
    def request_problem(self, body: Mapping[str, Any]) -> Reply | None:
        unknown = unknown_fields(body, _FIELDS)
        if unknown:
            return _unknown(unknown[0], "")
        unknown = unknown_fields(body.get("generationConfig") or {}, _CONFIG_FIELDS)
        if unknown:
            return _unknown(unknown[0], "generation_config")
        return None

    def json_asked(self, body: Mapping[str, Any]) -> JsonAsked | None:
        config = body.get("generationConfig") or {}
        if config.get("responseMimeType") != "application/json":
            return None
        return JsonAsked(config.get("responseJsonSchema") or config.get("responseSchema"))

    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None:
        match = _PATH.match(path)
        if method != "POST" or match is None:
            return None
        stream = match.group(2) == "streamGenerateContent"
        if stream and query.get("alt") != "sse":
            return None  # without alt=sse Gemini streams a JSON array, which we never ask for
        return Route(stream=stream, model=match.group(1))

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return headers.get("x-goog-api-key") == api_key

    def header_problem(self, headers: Mapping[str, str]) -> Reply | None:
        return None

    def echo(self, body: Any) -> str | None:
        for content in reversed(body.get("contents") or []):
            if content.get("role", "user") == "user":
                texts = [p["text"] for p in content.get("parts") or [] if "text" in p]
                if texts:
                    return "".join(texts)
        return None

    def ok(self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]) -> Reply:
        response_id = uuid.uuid4().hex[:22]
        usage = {
            "promptTokenCount": ok.usage[0],
            "candidatesTokenCount": ok.usage[1],
            "totalTokenCount": sum(ok.usage),
        }
        calls = [
            {"functionCall": {"name": c.name, "args": dict(c.arguments)}} for c in ok.tool_calls
        ]

        def chunk(
            parts: list[dict[str, Any]], finish: str | None = None, last: bool = False
        ) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            said = "".join(str(p.get("text", "")) for p in parts)
            logprobs = _logprobs_result(said, request) if said else None
            if logprobs is not None:
                candidate["logprobsResult"] = logprobs
            body: dict[str, Any] = {
                "candidates": [candidate],
                "modelVersion": model,
                "responseId": response_id,
            }
            if last or not stream:
                body["usageMetadata"] = usage
            else:
                body["usageMetadata"] = {
                    "promptTokenCount": ok.usage[0],
                    "totalTokenCount": ok.usage[0],
                }
            return body

        finish = _FINISH[finish_of(ok)]
        if not stream:
            parts = ([{"text": text}] if text else []) + calls
            return json_reply(200, chunk(parts, finish))
        fragments = pieces(text)
        bodies = [chunk([{"text": f}]) for f in fragments] + [chunk([c]) for c in calls]
        # The last chunk carries finishReason and the full usageMetadata.
        if bodies:
            last = bodies[-1]
            last["candidates"][0]["finishReason"] = finish
            last["usageMetadata"] = usage
        else:
            bodies = [chunk([{"text": ""}], finish, last=True)]
        events = [sse(b) for b in bodies]
        return Reply(200, events=events, headers={"content-type": "text/event-stream"})

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply:
        if isinstance(behaviour, RateLimited):
            details: list[dict[str, Any]] = []
            if behaviour.retry_after is not None:
                details.append(
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{behaviour.retry_after:g}s",
                    }
                )
            return _error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", details)
        if isinstance(behaviour, ServerError):
            status = _STATUS.get(behaviour.status, "INTERNAL")
            return _error(behaviour.status, status, "An internal error has occurred.")
        if isinstance(behaviour, Unavailable):
            return _error(503, "UNAVAILABLE", "The service is currently unavailable.")
        if isinstance(behaviour, Overloaded):
            return _error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        if isinstance(behaviour, InvalidRequest):
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if isinstance(behaviour, ContentFilter):
            # A blocked prompt is a 200 with promptFeedback.blockReason and no candidates.
            body = {
                "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
                "modelVersion": model,
            }
            if stream:
                return Reply(200, events=[sse(body)], headers={"content-type": "text/event-stream"})
            return json_reply(200, body)
        assert isinstance(behaviour, Unauthorized)
        # Gemini answers a wrong key with 400, not 401.
        return _error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                }
            ],
        )

    def error_under_200(self, stream: bool) -> Reply:
        error = {
            "error": {
                "code": 400,
                "message": "Invalid JSON payload received.",
                "status": "INVALID_ARGUMENT",
            }
        }
        return under_200(error, stream)

    def not_found(self, path: str) -> Reply:
        return _error(404, "NOT_FOUND", f"models path {path} is not found for API version v1beta.")
