"""Anthropic Messages API (`POST /v1/messages`), plain and streamed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from adapters import _validate as v
from adapters._base import HttpRequest, ProviderError, ProviderErrorKind, ProviderTarget
from adapters._content import arguments_object, joined_text, split_data_url
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
    CacheBreakpoint,
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
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

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; OpenAI clients may omit it.

_STOP: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_ERROR_KINDS = {
    "invalid_request_error": ProviderErrorKind.INVALID_REQUEST,
    "not_found_error": ProviderErrorKind.INVALID_REQUEST,
    "request_too_large": ProviderErrorKind.INVALID_REQUEST,
    "authentication_error": ProviderErrorKind.AUTH,
    "permission_error": ProviderErrorKind.AUTH,
    "billing_error": ProviderErrorKind.AUTH,
    "rate_limit_error": ProviderErrorKind.RATE_LIMITED,
    "api_error": ProviderErrorKind.SERVER_ERROR,
    "overloaded_error": ProviderErrorKind.OVERLOADED,
    "timeout_error": ProviderErrorKind.TIMEOUT,
}


def _block(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    data = split_data_url(part.url)
    if data is not None:
        source = {"type": "base64", "media_type": part.media_type or data[0], "data": data[1]}
    else:
        source = {"type": "url", "url": part.url}
    return {"type": "image", "source": source}


def _content(message: Message, m: int) -> list[dict[str, Any]]:
    if message.tool_result is not None:
        result = message.tool_result
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": result.tool_call_id,
            "content": [_block(p) for p in result.content],
        }
        if result.is_error:
            block["is_error"] = True
        return [block]
    blocks = [_block(p) for p in message.content if isinstance(p, TextPart | ImagePart)]
    for n, call in enumerate(message.tool_calls):
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": arguments_object(
                    call.arguments, f"messages[{m}].tool_calls[{n}].function.arguments"
                ),
            }
        )
    return blocks


def encode_messages(
    request: ChatRequest, blocks_by_part: dict[tuple[int, int], dict[str, Any]] | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """System texts and alternating turns: tool results travel as user turns, merged.

    `blocks_by_part`, when given, is filled with each block by (message, part), for the
    cache marks to find.
    """
    system = list(request.system)
    turns: list[dict[str, Any]] = []
    for m, message in enumerate(request.messages):
        if message.role == "system":
            system.append(joined_text(message.content))
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _content(message, m)
        if blocks_by_part is not None:
            blocks_by_part.update(((m, p), block) for p, block in enumerate(blocks))
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns


def _cache_control(mark: CacheBreakpoint) -> dict[str, str]:
    return {"type": "ephemeral"} | ({"ttl": mark.ttl} if mark.ttl else {})


def _place_cache_marks(
    request: ChatRequest,
    body: dict[str, Any],
    system: list[dict[str, Any]],
    blocks: dict[tuple[int, int], dict[str, Any]],
) -> None:
    """Put each cache_control back on the block it was on (see CacheBreakpoint)."""
    tools = body.get("tools", [])
    for mark in request.cache:
        if mark.where == "request":
            body["cache_control"] = _cache_control(mark)
        elif mark.where == "system" and mark.index < len(system):
            system[mark.index]["cache_control"] = _cache_control(mark)
        elif mark.where == "tools" and mark.index < len(tools):
            tools[mark.index]["cache_control"] = _cache_control(mark)
        elif (block := blocks.get((mark.index, mark.part))) is not None:
            block["cache_control"] = _cache_control(mark)


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    serial = request.parallel_tool_calls is False and bool(request.tools)
    choice = request.tool_choice
    if choice is None:
        return {"type": "auto", "disable_parallel_tool_use": True} if serial else None
    kind = {"auto": "auto", "none": "none", "required": "any"}.get(choice)
    out: dict[str, Any] = {"type": kind} if kind else {"type": "tool", "name": choice}
    if serial and kind != "none":
        out["disable_parallel_tool_use"] = True
    return out


def _options(request: ChatRequest, body: dict[str, Any]) -> None:
    """The fields beyond plain chat, each one only where the route plan sends it."""
    if request.top_k is not None:
        body["top_k"] = request.top_k
    output: dict[str, Any] = {}
    fmt = request.response_format
    if fmt is not None and fmt.schema is not None:
        output["format"] = {"type": "json_schema", "schema": fmt.schema}
    if request.reasoning_effort is not None:
        output["effort"] = request.reasoning_effort
    if output:
        body["output_config"] = output
    thinking = request.thinking
    if thinking is not None:
        body["thinking"] = {"type": thinking.type}
        if thinking.budget is not None:
            body["thinking"]["budget_tokens"] = thinking.budget
        if thinking.display is not None:
            body["thinking"]["display"] = thinking.display
    if request.service_tier in ("auto", "standard"):
        body["service_tier"] = "auto" if request.service_tier == "auto" else "standard_only"
    if request.inference_geo is not None:
        body["inference_geo"] = request.inference_geo
    if request.fast:
        body["speed"] = "fast"
    user = request.safety_identifier or request.user
    if user is not None:
        body["metadata"] = {"user_id": user}


def encode_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The Messages request body (Vertex AI takes it too, with its own model field)."""
    blocks: dict[tuple[int, int], dict[str, Any]] = {}
    system, messages = encode_messages(request, blocks if request.cache else None)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages,
    }
    system_blocks = [{"type": "text", "text": text} for text in system]
    if system_blocks:
        body["system"] = system_blocks
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.tools:
        strict = {"strict": True} if request.strict_tools else {}
        body["tools"] = [
            {"name": t.name, "input_schema": t.parameters}
            | ({"description": t.description} if t.description is not None else {})
            | strict
            for t in request.tools
        ]
    tool_choice = _tool_choice(request)
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    if request.stream:
        body["stream"] = True
    _options(request, body)
    if request.cache:
        _place_cache_marks(request, body, system_blocks, blocks)
    return body


class AnthropicCodec:
    features: ClassVar[frozenset[Feature]] = frozenset(
        {
            Feature.JSON_SCHEMA,
            Feature.TOP_K,
            Feature.TOOL_CHOICE_NONE,
            Feature.SERIAL_TOOL_CALLS,
            Feature.STRICT_TOOLS,
            Feature.REASONING_EFFORT,
            Feature.REASONING_MAX,
            Feature.THINKING,
            Feature.THINKING_BETWEEN_TOOLS,
            Feature.INFERENCE_GEO,
            Feature.FAST_MODE,
        }
    )

    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest:
        body = encode_body(request, target.model)
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if target.api_key:
            headers["x-api-key"] = target.api_key
        return HttpRequest("POST", f"{target.base_url}/v1/messages", headers, orjson.dumps(body))

    def decode_response(self, body: bytes) -> ChatResponse:
        obj = load_object(body, "message")
        content = obj.get("content")
        if obj.get("type") != "message" or not isinstance(content, list):
            raise malformed("response is not a message with content")
        texts: list[TextPart] = []
        calls: list[ToolCall] = []
        for n, item in enumerate(content):
            where = f"content[{n}]"
            if not isinstance(item, dict):
                raise malformed(f"{where} is not an object")
            kind = item.get("type")
            if kind == "text":
                texts.append(TextPart(v.answer_text(item.get("text"), f"{where}.text")))
            elif kind == "tool_use":
                calls.append(_tool_use(item, where))
        return ChatResponse(
            id=v.answer_id(obj.get("id"), "id"),
            model=v.answer_id(obj.get("model"), "model"),
            content=texts,
            tool_calls=calls,
            finish_reason=v.finish_reason(obj.get("stop_reason"), _STOP, "stop", "stop_reason")
            or "stop",
            usage=_usage(obj.get("usage")),
        )

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"error": {"message": body_text(body)}}
        return error_from_object(obj, status, headers)

    def stream_decoder(self) -> AnthropicStreamDecoder:
        return AnthropicStreamDecoder()


def _usage(value: Any) -> Usage:
    usage = v.answer_object(value, "usage")
    return Usage(
        v.token_count(usage.get("input_tokens"), "usage.input_tokens"),
        v.token_count(usage.get("output_tokens"), "usage.output_tokens"),
    )


def _tool_use(block: dict[str, Any], where: str) -> ToolCall:
    call_id = v.answer_id(block.get("id"), f"{where}.id")
    name = v.answer_id(block.get("name"), f"{where}.name")
    if not call_id or not name:
        raise malformed(f"{where} lacks its id or name")
    return ToolCall(call_id, name, v.arguments_json(block.get("input"), f"{where}.input"))


def error_from_object(
    obj: Mapping[str, Any], status: int | None, headers: Mapping[str, str]
) -> ProviderError:
    error = obj.get("error")
    if not isinstance(error, dict):
        error = {}
    error_type = v.error_text(error.get("type"))
    message = v.error_text(error.get("message"))
    kind = _ERROR_KINDS.get(error_type)
    if kind is None:
        kind = kind_for_status(status, message) if status else ProviderErrorKind.SERVER_ERROR
    return ProviderError(
        kind,
        message,
        status=status,
        retry_after=retry_after(headers),
        provider_code=error_type or None,
    )


class AnthropicStreamDecoder:
    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._tool_index: dict[int, int] = {}  # content block index -> tool call index
        self._usage = Usage()
        self._finish: FinishReason = "stop"
        self._done = False

    @property
    def buffered(self) -> int:
        return self._sse.buffered

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        for event in self._sse.feed(chunk):
            if not self._done:
                self._event(load_object(event.data, f"{event.event} event"), out)
        return out

    def close(self) -> list[StreamEvent]:
        self._sse.close()
        if not self._done:
            raise ended_early(self._sse, "message_stop")
        return []

    def _event(self, data: dict[str, Any], out: list[StreamEvent]) -> None:
        kind = data.get("type")
        if kind == "error":
            raise error_from_object(data, None, {})
        if kind == "message_start":
            message = data.get("message")
            if not isinstance(message, dict):
                raise malformed("message_start without message")
            self._usage = _usage(message.get("usage"))
            out.append(
                StreamStart(
                    v.answer_id(message.get("id"), "message.id"),
                    v.answer_id(message.get("model"), "message.model"),
                    self._usage,
                )
            )
        elif kind == "content_block_start":
            block = v.answer_object(data.get("content_block"), "content_block")
            if block.get("type") == "tool_use":
                where = "content_block"
                call_id = v.answer_id(block.get("id"), f"{where}.id")
                name = v.answer_id(block.get("name"), f"{where}.name")
                if not call_id or not name:
                    raise malformed(f"{where} lacks its id or name")
                index = len(self._tool_index)
                self._tool_index[_block_index(data)] = v.tool_index(index, "tool call count")
                out.append(ToolCallDelta(index, call_id, name, ""))
            elif block.get("type") == "text" and (
                text := v.answer_text(block.get("text"), "content_block.text")
            ):
                out.append(TextDelta(text))
        elif kind == "content_block_delta":
            delta = v.answer_object(data.get("delta"), "delta")
            if delta.get("type") == "text_delta":
                out.append(TextDelta(v.answer_text(delta.get("text"), "delta.text")))
            elif delta.get("type") == "input_json_delta":
                tool = self._tool_index.get(_block_index(data))
                if tool is None:
                    raise malformed("input_json_delta for a block that is not tool_use")
                partial = v.answer_text(delta.get("partial_json"), "delta.partial_json")
                out.append(ToolCallDelta(tool, None, None, partial))
        elif kind == "message_delta":
            delta = v.answer_object(data.get("delta"), "delta")
            stop = v.finish_reason(delta.get("stop_reason"), _STOP, "stop", "stop_reason")
            if stop is not None:
                self._finish = stop
            output = v.answer_object(data.get("usage"), "usage").get("output_tokens")
            if output is not None:
                output = v.token_count(output, "usage.output_tokens")
                self._usage = Usage(self._usage.input_tokens, output)
        elif kind == "message_stop":
            self._done = True
            out.append(StreamEnd(self._finish, self._usage))
        # ping, content_block_stop and event types added later carry nothing we need;
        # Anthropic's versioning policy says clients must tolerate new event types.


def _block_index(data: dict[str, Any]) -> int:
    index = data.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 2**31:
        raise malformed("content block index is not a non-negative integer")
    return index
