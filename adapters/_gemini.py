"""Google Gemini API (`generateContent`, `streamGenerateContent?alt=sse`): the call and the
answer (the request body is built in `_gemini_body`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from adapters import _validate as v
from adapters._base import (
    HttpRequest,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
)
from adapters._features import Feature
from adapters._gemini_body import encode_body
from adapters._http import (
    body_text,
    ended_early,
    kind_for_status,
    load_object,
    malformed,
    parse_duration,
    retry_after,
)
from adapters._model import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    LogprobsDelta,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    TokenLogprob,
    ToolCall,
    ToolCallDelta,
    TopLogprob,
    Usage,
)
from adapters._sse import SSEDecoder

_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
}
_STATUS_KINDS = {
    "INVALID_ARGUMENT": ProviderErrorKind.INVALID_REQUEST,
    "FAILED_PRECONDITION": ProviderErrorKind.INVALID_REQUEST,
    "NOT_FOUND": ProviderErrorKind.INVALID_REQUEST,
    "UNAUTHENTICATED": ProviderErrorKind.AUTH,
    "PERMISSION_DENIED": ProviderErrorKind.AUTH,
    "RESOURCE_EXHAUSTED": ProviderErrorKind.RATE_LIMITED,
    "INTERNAL": ProviderErrorKind.SERVER_ERROR,
    "DEADLINE_EXCEEDED": ProviderErrorKind.TIMEOUT,
}


def _usage(value: Any) -> Usage | None:
    if value is None:
        return None
    usage = v.answer_object(value, "usageMetadata")
    candidates = v.token_count(usage.get("candidatesTokenCount"), "candidatesTokenCount")
    thoughts = v.token_count(usage.get("thoughtsTokenCount"), "thoughtsTokenCount")
    prompt = v.token_count(usage.get("promptTokenCount"), "promptTokenCount")
    return Usage(prompt, v.token_count(candidates + thoughts, "candidates and thoughts tokens"))


def _blocked(obj: Mapping[str, Any]) -> ProviderError | None:
    feedback = v.answer_object(obj.get("promptFeedback"), "promptFeedback")
    reason = v.answer_id(feedback.get("blockReason"), "promptFeedback.blockReason")
    if reason:
        return ProviderError(
            ProviderErrorKind.CONTENT_FILTER, f"prompt blocked: {reason}", provider_code=reason
        )
    return None


def _candidate(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    candidates = v.answer_list(obj.get("candidates"), "candidates")
    if not candidates:
        return None
    first = candidates[0]
    if not isinstance(first, dict):
        raise malformed("candidate is not an object")
    return first


def _candidate_parts(candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    content = v.answer_object(candidate.get("content"), "candidate.content")
    parts = v.answer_list(content.get("parts"), "candidate.content.parts")
    kept = []
    for n, part in enumerate(parts):
        if not isinstance(part, dict):
            raise malformed(f"candidate.content.parts[{n}] is not an object")
        if not part.get("thought"):
            kept.append(part)
    return kept


def _text(part: Mapping[str, Any]) -> str:
    return v.answer_text(part.get("text"), "part.text")


def _tool_call(part: Mapping[str, Any]) -> ToolCall | None:
    call = part.get("functionCall")
    if call is None:
        return None
    if not isinstance(call, dict):
        raise malformed("part.functionCall is not an object")
    # Older models send no id; the OpenAI and Anthropic clients need one.
    call_id = v.answer_id(call.get("id"), "functionCall.id") or f"call_{uuid.uuid4().hex[:24]}"
    name = v.answer_id(call.get("name"), "functionCall.name")
    if not name:
        raise malformed("functionCall has no name")
    return ToolCall(call_id, name, v.arguments_json(call.get("args"), "functionCall.args"))


def _logprob(value: Any, where: str) -> TopLogprob:
    entry = v.answer_object(value, where)
    token = v.answer_id(entry.get("token"), f"{where}.token")
    logprob = v.logprob(entry.get("logProbability"), f"{where}.logProbability")
    return TopLogprob(token, logprob, list(token.encode()))


def _logprobs(candidate: Mapping[str, Any]) -> list[TokenLogprob] | None:
    """candidate.logprobsResult in OpenAI's shape: each chosen token and its alternatives."""
    result = candidate.get("logprobsResult")
    if not isinstance(result, dict):
        return None
    chosen = v.answer_list(result.get("chosenCandidates"), "logprobsResult.chosenCandidates")
    top = v.answer_list(result.get("topCandidates"), "logprobsResult.topCandidates")
    tokens = []
    for n, entry in enumerate(chosen):
        picked = _logprob(entry, f"logprobsResult.chosenCandidates[{n}]")
        where = f"logprobsResult.topCandidates[{n}]"
        alternatives = (
            v.answer_list(v.answer_object(top[n], where).get("candidates"), f"{where}.candidates")
            if n < len(top)
            else []
        )
        tokens.append(
            TokenLogprob(
                picked.token,
                picked.logprob,
                picked.bytes,
                [_logprob(a, f"{where}.candidates[{k}]") for k, a in enumerate(alternatives)],
            )
        )
    return tokens


def _finish(candidate: Mapping[str, Any], has_calls: bool) -> FinishReason | None:
    finish = v.finish_reason(candidate.get("finishReason"), _FINISH, "stop", "finishReason")
    if finish is None:
        return None
    # Gemini says STOP after a function call; the shared model says tool_calls.
    return "tool_calls" if finish == "stop" and has_calls else finish


class GeminiCodec:
    features: ClassVar[frozenset[Feature]] = frozenset(
        {
            Feature.JSON_OBJECT,
            Feature.JSON_SCHEMA,
            Feature.SEED,
            Feature.PRESENCE_PENALTY,
            Feature.FREQUENCY_PENALTY,
            Feature.LOGPROBS,
            Feature.TOP_K,
            Feature.TOOL_CHOICE_NONE,
            Feature.TEMPERATURE_ABOVE_1,
            Feature.REASONING_EFFORT,
            Feature.REASONING_NONE,
            Feature.THINKING,
        }
    )

    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest:
        body = encode_body(request)
        method = "streamGenerateContent?alt=sse" if request.stream else "generateContent"
        # The key goes in a header, never the URL: URLs end up in logs.
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        url = f"{target.base_url}/v1beta/models/{target.model}:{method}"
        return HttpRequest("POST", url, headers, orjson.dumps(body))

    def decode_response(self, body: bytes) -> ChatResponse:
        obj = load_object(body, "generateContent response")
        blocked = _blocked(obj)
        if blocked is not None:
            raise blocked
        candidate = _candidate(obj)
        if candidate is None:
            raise malformed("response has no candidates")
        parts = _candidate_parts(candidate)
        calls = [call for p in parts if (call := _tool_call(p)) is not None]
        text = "".join(_text(p) for p in parts)
        return ChatResponse(
            id=v.answer_id(obj.get("responseId"), "responseId"),
            model=v.answer_id(obj.get("modelVersion"), "modelVersion"),
            content=[TextPart(text)] if text else [],
            tool_calls=calls,
            finish_reason=_finish(candidate, bool(calls)) or "stop",
            usage=_usage(obj.get("usageMetadata")) or Usage(),
            logprobs=_logprobs(candidate),
        )

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"error": {"message": body_text(body)}}
        return error_from_object(obj, status, headers)

    def stream_decoder(self) -> GeminiStreamDecoder:
        return GeminiStreamDecoder()


def _retry_delay(details: Any) -> float | None:
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and v.error_text(detail.get("@type")).endswith("RetryInfo"):
            return parse_duration(v.error_text(detail.get("retryDelay")))
    return None


def _reasons(details: Any) -> set[str]:
    return {
        v.error_text(d.get("reason"))
        for d in (details if isinstance(details, list) else [])
        if isinstance(d, dict) and d.get("reason")
    }


def _field(details: Any) -> str | None:
    """The first field a google.rpc.BadRequest detail names as violated."""
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("BadRequest"):
            for violation in detail.get("fieldViolations") or []:
                if isinstance(violation, dict) and isinstance(violation.get("field"), str):
                    return str(violation["field"])
    return None


def error_from_object(
    obj: Mapping[str, Any], status: int | None, headers: Mapping[str, str]
) -> ProviderError:
    error = obj.get("error")
    if not isinstance(error, dict):
        error = {}
    message = v.error_text(error.get("message"))
    code = v.error_text(error.get("status"))
    details = error.get("details")
    http_status = status or (error.get("code") if isinstance(error.get("code"), int) else None)
    kind = _STATUS_KINDS.get(code)
    if "API_KEY_INVALID" in _reasons(details):
        # Gemini answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
        kind = ProviderErrorKind.AUTH
    elif kind is None:
        kind = kind_for_status(http_status or 500, message)
    wait = _retry_delay(details)
    return ProviderError(
        kind,
        message,
        status=status,
        retry_after=wait if wait is not None else retry_after(headers),
        provider_code=code or None,
        param=_field(details),
    )


class GeminiStreamDecoder:
    """Each SSE event is a whole GenerateContentResponse; the last one has a finishReason."""

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._started = False
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None
        self._calls = 0

    @property
    def buffered(self) -> int:
        return self._sse.buffered

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(chunk):
            self._chunk(load_object(event.data, "stream chunk"), out)
        return out

    def close(self) -> list[StreamEvent]:
        self._sse.close()
        if self._finish is None:
            raise ended_early(self._sse, "a finishReason")
        return [StreamEnd(self._finish, self._usage)]

    def _chunk(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        if "error" in obj:
            raise error_from_object(obj, None, {})
        blocked = _blocked(obj)
        if blocked is not None:
            raise blocked
        if not self._started:
            self._started = True
            out.append(
                StreamStart(
                    v.answer_id(obj.get("responseId"), "responseId"),
                    v.answer_id(obj.get("modelVersion"), "modelVersion"),
                )
            )
        self._usage = _usage(obj.get("usageMetadata")) or self._usage
        candidate = _candidate(obj)
        if candidate is None:
            return
        for part in _candidate_parts(candidate):
            if text := _text(part):
                out.append(TextDelta(text))
            elif (call := _tool_call(part)) is not None:
                index = v.tool_index(self._calls, "tool call count")
                out.append(ToolCallDelta(index, call.id, call.name, call.arguments))
                self._calls += 1
        if tokens := _logprobs(candidate):
            out.append(LogprobsDelta(tokens))
        finish = _finish(candidate, self._calls > 0)
        if finish is not None:
            self._finish = finish
