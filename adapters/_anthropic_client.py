"""The Anthropic Messages protocol as the sidecar speaks it to its clients."""

from __future__ import annotations

from typing import Any

import orjson

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._errors import ANTHROPIC_TYPES, ErrorType
from adapters._model import (
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
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolResult,
    Usage,
)

_STOP_REASONS: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}
# Blocks a client may echo back from an earlier answer that carry nothing to route.
_IGNORED_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _image(block: dict[str, Any], where: str) -> ImagePart:
    source = v.obj(block.get("source"), f"{where}.source")
    if source.get("type") == "base64":
        media_type = v.string(source.get("media_type"), f"{where}.source.media_type")
        data = v.string(source.get("data"), f"{where}.source.data")
        return ImagePart(f"data:{media_type};base64,{data}", media_type)
    if source.get("type") == "url":
        return ImagePart(v.string(source.get("url"), f"{where}.source.url"))
    raise InvalidRequest("unsupported image source type", param=f"{where}.source.type")


def _result_parts(value: Any, where: str) -> list[Part]:
    if value is None:
        return []
    if isinstance(value, str):
        return [TextPart(value)]
    parts: list[Part] = []
    for n, item in enumerate(v.array(value, where)):
        block = v.obj(item, f"{where}[{n}]")
        if block.get("type") == "text":
            parts.append(TextPart(v.string(block.get("text"), f"{where}[{n}].text")))
        elif block.get("type") == "image":
            parts.append(_image(block, f"{where}[{n}]"))
        else:
            raise InvalidRequest("unsupported tool_result block", param=f"{where}[{n}].type")
    return parts


def _message(role: str, content: Any, where: str) -> list[Message]:
    """One Anthropic turn; its tool_result blocks become separate tool messages first."""
    if isinstance(content, str):
        return [Message("user" if role == "user" else "assistant", [TextPart(content)])]
    results: list[Message] = []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for n, item in enumerate(v.array(content, f"{where}.content")):
        at = f"{where}.content[{n}]"
        block = v.obj(item, at)
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(v.string(block.get("text"), f"{at}.text")))
        elif kind == "image" and role == "user":
            parts.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            arguments = orjson.dumps(v.obj(block.get("input"), f"{at}.input")).decode()
            calls.append(
                ToolCall(
                    v.string(block.get("id"), f"{at}.id"),
                    v.string(block.get("name"), f"{at}.name"),
                    arguments,
                )
            )
        elif kind == "tool_result" and role == "user":
            is_error = block.get("is_error")
            result = ToolResult(
                v.string(block.get("tool_use_id"), f"{at}.tool_use_id"),
                _result_parts(block.get("content"), f"{at}.content"),
                is_error is not None and v.boolean(is_error, f"{at}.is_error"),
            )
            results.append(Message("tool", tool_result=result))
        elif not isinstance(kind, str) or kind not in _IGNORED_BLOCKS:  # dicts are unhashable
            raise InvalidRequest(
                f"{at}.type is not a supported content block type", param=f"{at}.type"
            )
    if role == "assistant":
        return [Message("assistant", parts, calls)]
    return results + ([Message("user", parts)] if parts or not results else [])


def _system(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    texts = []
    for n, item in enumerate(v.array(value, "system")):
        block = v.obj(item, f"system[{n}]")
        if block.get("type") != "text":
            raise InvalidRequest("system blocks must be text", param=f"system[{n}].type")
        texts.append(v.string(block.get("text"), f"system[{n}].text"))
    return texts


def _tools(value: Any) -> list[Tool]:
    tools = []
    for n, item in enumerate(v.array(value, "tools")):
        tool = v.obj(item, f"tools[{n}]")
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest("only client tools are supported", param=f"tools[{n}].type")
        tools.append(
            Tool(
                name=v.string(tool.get("name"), f"tools[{n}].name"),
                description=v.optional_string(tool.get("description"), f"tools[{n}].description"),
                parameters=v.obj(tool.get("input_schema"), f"tools[{n}].input_schema"),
            )
        )
    return tools


def _tool_choice(value: Any) -> ToolChoice:
    choice = v.obj(value, "tool_choice")
    kind = choice.get("type")
    if kind in ("auto", "none"):
        return str(kind)
    if kind == "any":
        return "required"
    if kind == "tool":
        return v.string(choice.get("name"), "tool_choice.name")
    raise InvalidRequest(
        "tool_choice.type must be auto, any, tool or none", param="tool_choice.type"
    )


def decode_request(body: Any) -> ChatRequest:
    body = v.obj(body, "body")
    model = v.string(body.get("model"), "model")
    max_tokens = v.positive_int(body.get("max_tokens"), "max_tokens")
    messages: list[Message] = []
    for n, item in enumerate(v.array(body.get("messages"), "messages", non_empty=True)):
        message = v.obj(item, f"messages[{n}]")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRequest("role must be user or assistant", param=f"messages[{n}].role")
        messages.extend(_message(str(role), message.get("content"), f"messages[{n}]"))
    request = ChatRequest(model=model, messages=messages, max_tokens=max_tokens)
    if body.get("system") is not None:
        request.system = _system(body["system"])
    if body.get("temperature") is not None:
        request.temperature = v.number(body["temperature"], "temperature", 0, 1)
    if body.get("top_p") is not None:
        request.top_p = v.number(body["top_p"], "top_p", 0, 1)
    if body.get("stop_sequences") is not None:
        request.stop = v.string_list(body["stop_sequences"], "stop_sequences")
    if body.get("tools") is not None:
        request.tools = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        request.tool_choice = _tool_choice(body["tool_choice"])
    if body.get("stream") is not None:
        request.stream = v.boolean(body["stream"], "stream")
    metadata = body.get("metadata")
    if metadata is not None:
        request.user = v.optional_string(
            v.obj(metadata, "metadata").get("user_id"), "metadata.user_id"
        )
    return request


def _input(arguments: str) -> Any:
    """The tool input object; a provider's malformed arguments become an empty object."""
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _usage(usage: Usage) -> dict[str, int]:
    return {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": ANTHROPIC_TYPES[ErrorType(error_type)], "message": message},
    }


class AnthropicClientCodec:
    def decode_request(self, body: Any) -> ChatRequest:
        return decode_request(body)

    def encode_response(self, response: ChatResponse, request_id: str, model: str) -> bytes:
        content: list[dict[str, Any]] = [{"type": "text", "text": p.text} for p in response.content]
        content += [
            {"type": "tool_use", "id": c.id, "name": c.name, "input": _input(c.arguments)}
            for c in response.tool_calls
        ]
        body = {
            "id": f"msg_{request_id}",
            "type": "message",
            "role": "assistant",
            "content": content,
            "model": model,
            "stop_reason": _STOP_REASONS[response.finish_reason],
            "stop_sequence": None,
            "usage": _usage(response.usage),
        }
        return orjson.dumps(body)

    def stream_encoder(
        self, request: ChatRequest, request_id: str, model: str
    ) -> AnthropicStreamEncoder:
        return AnthropicStreamEncoder(f"msg_{request_id}", model)

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes:
        # Anthropic's error shape has no field for the parameter; the message names it.
        return orjson.dumps(error_body(error_type, message))


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name} | data) + b"\n\n"


class AnthropicStreamEncoder:
    """message_start, then per block start/delta.../stop, message_delta, message_stop.

    Tool-call deltas are expected one call at a time (as OpenAI and Anthropic stream
    them); a fragment for an earlier call is appended to the open block.
    """

    def __init__(self, message_id: str, model: str) -> None:
        self._id = message_id
        self._model = model
        self._started = False
        self._pinged = False
        self._blocks = 0
        self._open: str | None = None  # "text" or "tool_use"
        self._input_tokens = 0

    def encode(self, event: StreamEvent) -> bytes:
        out = b"" if self._started else self._start(event)
        if isinstance(event, TextDelta):
            if self._open != "text":
                out += self._open_block({"type": "text", "text": ""}, "text")
            out += self._delta({"type": "text_delta", "text": event.text})
        elif isinstance(event, ToolCallDelta):
            if event.id is not None or self._open != "tool_use":
                block = {
                    "type": "tool_use",
                    "id": event.id or "",
                    "name": event.name or "",
                    "input": {},
                }
                out += self._open_block(block, "tool_use")
            if event.arguments:
                out += self._delta({"type": "input_json_delta", "partial_json": event.arguments})
        elif isinstance(event, StreamEnd):
            out += self._close_block()
            usage = event.usage or Usage(self._input_tokens, 0)
            out += _event(
                "message_delta",
                {
                    "delta": {
                        "stop_reason": _STOP_REASONS[event.finish_reason],
                        "stop_sequence": None,
                    },
                    "usage": {"output_tokens": usage.output_tokens},
                },
            )
            out += _event("message_stop", {})
        return out

    def _start(self, event: StreamEvent) -> bytes:
        self._started = True
        if isinstance(event, StreamStart) and event.usage is not None:
            self._input_tokens = event.usage.input_tokens
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self._model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 0},
        }
        return _event("message_start", {"message": message})

    def _open_block(self, block: dict[str, Any], kind: str) -> bytes:
        out = self._close_block()
        self._open = kind
        out += _event("content_block_start", {"index": self._blocks, "content_block": block})
        if not self._pinged:
            # Anthropic's documented sequence has a ping after the first block start.
            self._pinged = True
            out += _event("ping", {})
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"index": self._blocks, "delta": delta})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        self._blocks += 1
        return _event("content_block_stop", {"index": self._blocks - 1})

    def encode_error(self, status: int, error_type: str, message: str) -> bytes:
        return b"event: error\ndata: " + orjson.dumps(error_body(error_type, message)) + b"\n\n"
