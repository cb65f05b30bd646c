"""OpenAI-compatible Chat Completions (OpenAI, Mistral, vLLM, Ollama, LocalAI) and Azure OpenAI:
the call and the answer (the request body is built in `_openai_body`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from adapters import _validate as v
from adapters._base import HttpRequest, ProviderError, ProviderErrorKind, ProviderTarget
from adapters._features import Feature
from adapters._http import (
    body_text,
    ended_early,
    kind_for_status,
    load_object,
    malformed,
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
from adapters._openai_body import encode_body
from adapters._sse import SSEDecoder

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
# OpenAI uses content_policy_violation (images, moderation); Azure content_filter.
_CONTENT_FILTER_CODES = frozenset({"content_filter", "content_policy_violation"})
_STREAM_ERROR_KINDS = {
    "rate_limit_error": ProviderErrorKind.RATE_LIMITED,
    "rate_limit_exceeded": ProviderErrorKind.RATE_LIMITED,
    "insufficient_quota": ProviderErrorKind.RATE_LIMITED,
    "server_error": ProviderErrorKind.SERVER_ERROR,
    "api_error": ProviderErrorKind.SERVER_ERROR,
    "overloaded_error": ProviderErrorKind.OVERLOADED,
    "invalid_request_error": ProviderErrorKind.INVALID_REQUEST,
}


def _logprobs(choice: Mapping[str, Any]) -> list[TokenLogprob] | None:
    """choice.logprobs.content, or None when the provider sent none."""
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    return [_token_logprob(t, f"logprobs.content[{n}]") for n, t in enumerate(content)]


def _token_logprob(value: Any, where: str) -> TokenLogprob:
    entry = v.answer_object(value, where)
    top = v.answer_list(entry.get("top_logprobs"), f"{where}.top_logprobs")
    return TokenLogprob(
        v.answer_id(entry.get("token"), f"{where}.token"),
        v.logprob(entry.get("logprob"), f"{where}.logprob"),
        v.token_bytes(entry.get("bytes"), f"{where}.bytes"),
        [_top_logprob(a, f"{where}.top_logprobs[{k}]") for k, a in enumerate(top)],
    )


def _top_logprob(value: Any, where: str) -> TopLogprob:
    entry = v.answer_object(value, where)
    return TopLogprob(
        v.answer_id(entry.get("token"), f"{where}.token"),
        v.logprob(entry.get("logprob"), f"{where}.logprob"),
        v.token_bytes(entry.get("bytes"), f"{where}.bytes"),
    )


def _usage(value: Any) -> Usage | None:
    if value is None:
        return None
    usage = v.answer_object(value, "usage")
    return Usage(
        input_tokens=v.token_count(usage.get("prompt_tokens"), "usage.prompt_tokens"),
        output_tokens=v.token_count(usage.get("completion_tokens"), "usage.completion_tokens"),
    )


def _tool_call(value: Any, where: str) -> ToolCall:
    call = v.answer_object(value, where)
    function = v.answer_object(call.get("function"), f"{where}.function")
    call_id = v.answer_id(call.get("id"), f"{where}.id")
    name = v.answer_id(function.get("name"), f"{where}.function.name")
    if not call_id or not name:
        raise malformed(f"{where} lacks its id or function name")
    arguments = v.arguments_text(function.get("arguments"), f"{where}.function.arguments")
    return ToolCall(call_id, name, arguments)


def _error_kind(status: int | None, code: str, error_type: str, message: str) -> ProviderErrorKind:
    if code in _CONTENT_FILTER_CODES:
        return ProviderErrorKind.CONTENT_FILTER
    if status is not None:
        return kind_for_status(status, message)
    return _STREAM_ERROR_KINDS.get(code) or _STREAM_ERROR_KINDS.get(
        error_type, ProviderErrorKind.SERVER_ERROR
    )


def error_from_object(
    obj: Mapping[str, Any], status: int | None, headers: Mapping[str, str]
) -> ProviderError:
    # OpenAI nests under "error"; vLLM answers top-level {"object": "error", ...};
    # Ollama sends {"error": "text"}.
    error = obj.get("error", obj)
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        error = {}
    message = v.error_text(error.get("message"))
    code = v.error_text(error.get("code"))
    error_type = v.error_text(error.get("type"))
    param = error.get("param")
    return ProviderError(
        _error_kind(status, code, error_type, message),
        message,
        status=status,
        retry_after=retry_after(headers),
        provider_code=code or error_type or None,
        param=param if isinstance(param, str) and param else None,
    )


class OpenAICodec:
    features: ClassVar[frozenset[Feature]] = frozenset(Feature) - {
        Feature.TOP_K,
        Feature.THINKING,
        Feature.THINKING_BETWEEN_TOOLS,
        Feature.INFERENCE_GEO,
        Feature.FAST_MODE,
    }
    _openai_only: ClassVar[bool] = True

    def url(self, target: ProviderTarget, request: ChatRequest) -> str:
        return f"{target.base_url}/chat/completions"

    def auth_headers(self, target: ProviderTarget) -> dict[str, str]:
        return {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}

    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest:
        # OpenAI's reasoning models reject max_tokens; most compatible servers only
        # know max_tokens, so the field is a per-provider option.
        field = target.options.get("max_tokens_field", "max_tokens")
        headers = {"content-type": "application/json", **self.auth_headers(target)}
        if request.stream:
            headers["accept"] = "text/event-stream"
        body = encode_body(request, self.body_model(target), field, self._openai_only)
        return HttpRequest("POST", self.url(target, request), headers, body)

    def body_model(self, target: ProviderTarget) -> str | None:
        return target.model

    def decode_response(self, body: bytes) -> ChatResponse:
        obj = load_object(body, "chat completion")
        choices = obj.get("choices")
        # Some compatible servers omit "object"; a different object is another endpoint.
        if (
            obj.get("object", "chat.completion") != "chat.completion"
            or not isinstance(choices, list)
            or not choices
        ):
            raise malformed("response is not a chat.completion with choices")
        choice = v.answer_object(choices[0], "choices[0]")
        message = choice.get("message")
        if not isinstance(message, dict):
            raise malformed("choice has no message")
        text = v.answer_text(message.get("content"), "message.content")
        calls = v.answer_list(message.get("tool_calls"), "message.tool_calls")
        tool_calls = [_tool_call(c, f"message.tool_calls[{n}]") for n, c in enumerate(calls)]
        finish = v.finish_reason(choice.get("finish_reason"), _FINISH, "stop", "finish_reason")
        return ChatResponse(
            id=v.answer_id(obj.get("id"), "id"),
            model=v.answer_id(obj.get("model"), "model"),
            content=[TextPart(text)] if text else [],
            tool_calls=tool_calls,
            finish_reason=finish or "stop",
            usage=_usage(obj.get("usage")) or Usage(),
            logprobs=_logprobs(choice),
        )

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"error": {"message": body_text(body)}}
        return error_from_object(obj, status, headers)

    def stream_decoder(self) -> OpenAIStreamDecoder:
        return OpenAIStreamDecoder()


class AzureOpenAICodec(OpenAICodec):
    """Azure addresses the model by deployment in the path and wants `api-key`.

    Its GA API versions refuse the fields OpenAI added for its reasoning models and
    service tiers as unknown, so those are not declared (and the hints not sent).
    """

    features: ClassVar[frozenset[Feature]] = OpenAICodec.features - {
        Feature.SERVICE_TIER,
        Feature.VERBOSITY,
        Feature.REASONING_EFFORT,
        Feature.REASONING_NONE,
        Feature.REASONING_MINIMAL,
        Feature.REASONING_MAX,
    }
    _openai_only: ClassVar[bool] = False

    def url(self, target: ProviderTarget, request: ChatRequest) -> str:
        version = target.options.get("api_version")
        if not version:
            raise ValueError("Azure OpenAI needs options.api_version")
        return (
            f"{target.base_url}/openai/deployments/{target.model}/chat/completions"
            f"?api-version={version}"
        )

    def auth_headers(self, target: ProviderTarget) -> dict[str, str]:
        return {"api-key": target.api_key} if target.api_key else {}

    def body_model(self, target: ProviderTarget) -> str | None:
        return None


class OpenAIStreamDecoder:
    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._started = False
        self._done = False
        self._finish: FinishReason | None = None
        self._usage: Usage | None = None

    @property
    def buffered(self) -> int:
        return self._sse.buffered

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(chunk):
            if self._done:
                break
            if event.data.strip() == "[DONE]":
                self._done = True
                out.append(StreamEnd(self._finish or "stop", self._usage))
                continue
            self._chunk(load_object(event.data, "stream chunk"), out)
        return out

    def close(self) -> list[StreamEvent]:
        self._sse.close()
        if not self._done:
            raise ended_early(self._sse, "[DONE]")
        return []

    def _chunk(self, obj: dict[str, Any], out: list[StreamEvent]) -> None:
        if "error" in obj:
            raise error_from_object(obj, None, {})
        # Azure's first chunk carries only prompt_filter_results: empty id and choices.
        chunk_id = v.answer_id(obj.get("id"), "chunk id")
        if not self._started and chunk_id:
            self._started = True
            out.append(StreamStart(id=chunk_id, model=v.answer_id(obj.get("model"), "model")))
        usage = _usage(obj.get("usage"))
        if usage is not None:
            self._usage = usage
        choices = obj.get("choices")
        if not isinstance(choices, list):
            raise malformed("stream chunk has no choices list")
        for n, item in enumerate(choices):
            choice = v.answer_object(item, f"choices[{n}]")
            if choice.get("index", 0) != 0:
                continue
            delta = v.answer_object(choice.get("delta"), "delta")
            if text := v.answer_text(delta.get("content"), "delta.content"):
                out.append(TextDelta(text))
            if tokens := _logprobs(choice):
                out.append(LogprobsDelta(tokens))
            for k, item_call in enumerate(v.answer_list(delta.get("tool_calls"), "tool_calls")):
                where = f"delta.tool_calls[{k}]"
                call = v.answer_object(item_call, where)
                function = v.answer_object(call.get("function"), f"{where}.function")
                out.append(
                    ToolCallDelta(
                        index=v.tool_index(call.get("index", 0), f"{where}.index"),
                        id=v.optional_id(call.get("id"), f"{where}.id"),
                        name=v.optional_id(function.get("name"), f"{where}.function.name"),
                        arguments=v.answer_text(
                            function.get("arguments"), f"{where}.function.arguments"
                        ),
                    )
                )
            finish = v.finish_reason(choice.get("finish_reason"), _FINISH, "stop", "finish_reason")
            if finish is not None:
                self._finish = finish
