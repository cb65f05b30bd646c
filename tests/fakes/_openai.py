"""OpenAI Chat Completions and Azure OpenAI, from the public API reference."""

from __future__ import annotations

import json
import time
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


def _error(
    message: str, type_: str | None, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# CreateChatCompletionRequest's properties (openai-openapi 2.3.0).
_FIELDS = frozenset(
    {
        "messages", "model", "modalities", "reasoning_effort", "verbosity",
        "max_completion_tokens", "max_tokens", "frequency_penalty", "presence_penalty",
        "web_search_options", "top_logprobs", "logprobs", "response_format", "audio",
        "store", "metadata", "moderation", "stream", "stream_options", "stop", "logit_bias",
        "n", "prediction", "seed", "tools", "tool_choice", "parallel_tool_calls",
        "function_call", "functions", "temperature", "top_p", "user", "safety_identifier",
        "prompt_cache_key", "prompt_cache_retention", "prompt_cache_options", "service_tier",
    }
)  # fmt: skip
# Fields of OpenAI's own API that Azure's GA API versions do not know.
_NOT_ON_AZURE = frozenset(
    {
        "reasoning_effort", "verbosity", "prediction", "safety_identifier", "prompt_cache_key",
        "prompt_cache_retention", "prompt_cache_options", "service_tier", "moderation",
    }
)  # fmt: skip


def _logprobs(text: str, request: Mapping[str, Any]) -> dict[str, Any] | None:
    if request.get("logprobs") is not True:
        return None
    top = int(request.get("top_logprobs") or 0)
    content = []
    for token in tokens_of(text):
        alternatives = [token] + [f"{token}~{n}" for n in range(1, top)]
        content.append(
            {
                "token": token,
                "logprob": -0.25,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": a, "logprob": -0.25 * (n + 1), "bytes": list(a.encode())}
                    for n, a in enumerate(alternatives[:top])
                ],
            }
        )
    return {"content": content, "refusal": None}


class OpenAIDialect:
    fields = _FIELDS

    def request_problem(self, body: Mapping[str, Any]) -> Reply | None:
        unknown = unknown_fields(body, self.fields)
        if not unknown:
            return None
        return json_reply(
            400,
            _error(
                f"Unrecognized request argument supplied: {unknown[0]}",
                "invalid_request_error",
                None,
            ),
        )

    def json_asked(self, body: Mapping[str, Any]) -> JsonAsked | None:
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_object":
            return JsonAsked(None)
        if fmt.get("type") == "json_schema":
            return JsonAsked(fmt["json_schema"].get("schema") or {})
        return None

    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None:
        if method == "POST" and path == "/v1/chat/completions":
            return Route(stream=None, model="")
        return None

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return headers.get("Authorization") == f"Bearer {api_key}"

    def header_problem(self, headers: Mapping[str, str]) -> Reply | None:
        return None

    def echo(self, body: Any) -> str | None:
        for message in reversed(body.get("messages") or []):
            if message.get("role") == "user":
                content = message.get("content")
                if isinstance(content, str):
                    return content
                return "".join(p.get("text", "") for p in content or [] if p.get("type") == "text")
        return None

    def ok(self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]) -> Reply:
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:20]}"
        calls: list[dict[str, Any]] = [
            {
                "id": call.id or f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {"name": call.name, "arguments": _json(call.arguments)},
            }
            for call in ok.tool_calls
        ]
        usage = {
            "prompt_tokens": ok.usage[0],
            "completion_tokens": ok.usage[1],
            "total_tokens": sum(ok.usage),
        }
        if not stream:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": text or None,
                "refusal": None,
            }
            if calls:
                message["tool_calls"] = calls
            body = {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": _logprobs(text, request),
                        "finish_reason": finish_of(ok),
                    }
                ],
                "usage": usage,
                "system_fingerprint": "fp_fake",
            }
            return json_reply(200, body)
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        options = request.get("stream_options") or {}
        include_usage = options.get("include_usage") is True

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            logprobs = _logprobs(delta["content"], request) if delta.get("content") else None
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            # "All other chunks will also include a usage field, but with a null value."
            return sse(base | {"choices": [choice]} | ({"usage": None} if include_usage else {}))

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": piece}) for piece in pieces(text)]
        for index, call in enumerate(calls):
            head = {"index": index, "id": call["id"], "type": "function"}
            events.append(
                chunk(
                    {
                        "tool_calls": [
                            head | {"function": {"name": call["function"]["name"], "arguments": ""}}
                        ]
                    }
                )
            )
            events += [
                chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
                for part in pieces(call["function"]["arguments"])
            ]
        events.append(chunk({}, finish_of(ok)))
        # stream_options.include_usage: "an additional chunk will be streamed before the
        # data: [DONE] message. The usage field on this chunk shows the token usage
        # statistics for the entire request, and the choices field will always be an
        # empty array."
        if include_usage:
            events.append(sse(base | {"choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return Reply(200, events=events, headers={"content-type": "text/event-stream"})

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply:
        if isinstance(behaviour, RateLimited):
            headers = (
                {}
                if behaviour.retry_after is None
                else {"retry-after": f"{behaviour.retry_after:g}"}
            )
            return json_reply(
                429,
                _error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
                headers,
            )
        if isinstance(behaviour, ServerError):
            return json_reply(
                behaviour.status,
                _error(
                    "The server had an error while processing your request.", "server_error", None
                ),
            )
        if isinstance(behaviour, Unavailable):
            return json_reply(
                503, _error("The server is currently unavailable.", "server_error", None)
            )
        if isinstance(behaviour, Overloaded):
            return json_reply(
                503,
                _error(
                    "The engine is currently overloaded, please try again later.",
                    "server_error",
                    None,
                ),
            )
        if isinstance(behaviour, InvalidRequest):
            return json_reply(
                400,
                _error(
                    "Invalid value for 'temperature'.",
                    "invalid_request_error",
                    "invalid_value",
                    "temperature",
                ),
            )
        if isinstance(behaviour, ContentFilter):
            return json_reply(
                400,
                _error(
                    "Your request was rejected as a result of our safety system.",
                    "invalid_request_error",
                    "content_policy_violation",
                ),
            )
        assert isinstance(behaviour, Unauthorized)
        return json_reply(
            401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        )

    def error_under_200(self, stream: bool) -> Reply:
        error = _error(
            "Invalid value for 'temperature'.",
            "invalid_request_error",
            "invalid_value",
            "temperature",
        )
        return under_200(error, stream)

    def not_found(self, path: str) -> Reply:
        return json_reply(404, _error(f"Invalid URL (POST {path})", "invalid_request_error", None))


class AzureOpenAIDialect(OpenAIDialect):
    """Azure answers in OpenAI's shapes, except its auth, routing and content filter."""

    fields = _FIELDS - _NOT_ON_AZURE

    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None:
        parts = path.split("/")
        # /openai/deployments/{deployment}/chat/completions?api-version=...
        if (
            method == "POST"
            and len(parts) == 6
            and parts[:3] == ["", "openai", "deployments"]
            and parts[4:] == ["chat", "completions"]
            and query.get("api-version")
        ):
            return Route(stream=None, model=parts[3])
        return None

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return headers.get("api-key") == api_key

    def ok(self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]) -> Reply:
        reply = super().ok(ok, text, model, stream, request)
        if reply.events is not None:
            # Azure streams the prompt's filter results first, in a chunk with an empty
            # id, empty model and no choices.
            first = {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            }
            reply.events.insert(0, sse(first))
        return reply

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply:
        if isinstance(behaviour, ContentFilter):
            # Azure: "The response was filtered due to the prompt triggering Azure
            # OpenAI's content management policy" with code content_filter, 400.
            return json_reply(
                400,
                {
                    "error": {
                        "message": "The response was filtered due to the prompt triggering "
                        "Azure OpenAI's content management policy.",
                        "type": None,
                        "param": "prompt",
                        "code": "content_filter",
                        "status": 400,
                        "innererror": {
                            "code": "ResponsibleAIPolicyViolation",
                            "content_filter_result": {
                                "hate": {"filtered": True, "severity": "high"},
                                "self_harm": {"filtered": False, "severity": "safe"},
                                "sexual": {"filtered": False, "severity": "safe"},
                                "violence": {"filtered": False, "severity": "safe"},
                            },
                        },
                    }
                },
            )
        if isinstance(behaviour, Unauthorized):
            return json_reply(
                401,
                {
                    "error": {
                        "code": "401",
                        "message": "Access denied due to invalid subscription key or wrong API "
                        "endpoint. Make sure to provide a valid key for an active subscription "
                        "and use a correct regional API endpoint for your resource.",
                    }
                },
            )
        return super().error(behaviour, model, stream)

    def not_found(self, path: str) -> Reply:
        return json_reply(404, {"error": {"code": "404", "message": "Resource not found"}})


def _json(arguments: Mapping[str, Any]) -> str:
    return json.dumps(dict(arguments))
