"""Google Gemini API (`generateContent`, `streamGenerateContent?alt=sse`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from adapters import _validate as v
from adapters._base import (
    HttpRequest,
    InvalidRequest,
    ProviderError,
    ProviderErrorKind,
    ProviderTarget,
)
from adapters._content import arguments_object, joined_text, split_data_url
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
    Message,
    Part,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
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


def _part(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    data = split_data_url(part.url)
    if data is not None:
        return {"inlineData": {"mimeType": part.media_type or data[0], "data": data[1]}}
    return {"fileData": {"mimeType": part.media_type or "image/jpeg", "fileUri": part.url}}


def _contents(request: ChatRequest) -> tuple[list[str], list[dict[str, Any]]]:
    system = list(request.system)
    names: dict[str, str] = {}  # tool call id -> function name, from earlier assistant turns
    contents: list[dict[str, Any]] = []
    for m, message in enumerate(request.messages):
        if message.role == "system":
            system.append(joined_text(message.content))
            continue
        parts = _parts(message, m, names)
        role = "model" if message.role == "assistant" else "user"
        # Gemini wants the answers to parallel calls together in one turn.
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _parts(message: Message, m: int, names: dict[str, str]) -> list[dict[str, Any]]:
    result = message.tool_result
    if result is not None:
        # A functionResponse is matched by name, which OpenAI-style tool messages lack.
        name = names.get(result.tool_call_id)
        if name is None:
            raise InvalidRequest(
                f"no earlier tool call has id {result.tool_call_id!r}",
                param=f"messages[{m}].tool_call_id",
            )
        # Gemini: 'Use "output" key to specify function output and "error" key to
        # specify error details' (FunctionResponse.response).
        key = "error" if result.is_error else "output"
        return [
            {"functionResponse": {"name": name, "response": {key: joined_text(result.content)}}}
        ]
    parts = [_part(p) for p in message.content]
    for n, call in enumerate(message.tool_calls):
        names[call.id] = call.name
        args = arguments_object(call.arguments, f"messages[{m}].tool_calls[{n}].function.arguments")
        parts.append({"functionCall": {"name": call.name, "args": args}})
    return parts


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = request.stop
    return config


def _tool_config(choice: str) -> dict[str, Any]:
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(choice)
    if mode is not None:
        return {"functionCallingConfig": {"mode": mode}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice]}}


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


def _finish(candidate: Mapping[str, Any], has_calls: bool) -> FinishReason | None:
    finish = v.finish_reason(candidate.get("finishReason"), _FINISH, "stop", "finishReason")
    if finish is None:
        return None
    # Gemini says STOP after a function call; the shared model says tool_calls.
    return "tool_calls" if finish == "stop" and has_calls else finish


class GeminiCodec:
    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest:
        system, contents = _contents(request)
        body: dict[str, Any] = {"contents": contents}
        if system:
            body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
        if request.tools:
            declarations = [
                {"name": t.name, "parameters": t.parameters}
                | ({"description": t.description} if t.description is not None else {})
                for t in request.tools
            ]
            body["tools"] = [{"functionDeclarations": declarations}]
        if request.tool_choice is not None:
            body["toolConfig"] = _tool_config(request.tool_choice)
        config = _generation_config(request)
        if config:
            body["generationConfig"] = config
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
        finish = _finish(candidate, self._calls > 0)
        if finish is not None:
            self._finish = finish
