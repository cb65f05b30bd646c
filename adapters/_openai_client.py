"""The OpenAI Chat Completions protocol as the sidecar speaks it to its clients.

System and developer messages are hoisted, in order, into `ChatRequest.system`
wherever they appear: Anthropic and Gemini only take a top-level system prompt, and
clients put them first in practice. Every other message keeps its position.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._errors import OPENAI_TYPES, ErrorType
from adapters._model import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    ImagePart,
    Message,
    Part,
    StreamEnd,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    ToolResult,
    Usage,
)

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _parts(value: Any, param: str, *, images: bool) -> list[Part]:
    if isinstance(value, str):
        return [TextPart(value)]
    parts: list[Part] = []
    for n, item in enumerate(v.array(value, param)):
        where = f"{param}[{n}]"
        part = v.obj(item, where)
        kind = part.get("type")
        if kind in ("text", "refusal"):
            parts.append(TextPart(v.string(part.get(kind), f"{where}.{kind}")))
        elif kind == "image_url" and images:
            image = v.obj(part.get("image_url"), f"{where}.image_url")
            parts.append(ImagePart(v.string(image.get("url"), f"{where}.image_url.url")))
        else:
            raise InvalidRequest(
                f"{where}.type is not a supported content part type", param=f"{where}.type"
            )
    return parts


def _tool_calls(value: Any, param: str) -> list[ToolCall]:
    calls = []
    for n, item in enumerate(v.array(value, param)):
        where = f"{param}[{n}]"
        call = v.obj(item, where)
        function = v.obj(call.get("function"), f"{where}.function")
        calls.append(
            ToolCall(
                id=v.string(call.get("id"), f"{where}.id"),
                name=v.string(function.get("name"), f"{where}.function.name"),
                arguments=v.string(function.get("arguments"), f"{where}.function.arguments"),
            )
        )
    return calls


def _messages(value: Any) -> tuple[list[str], list[Message]]:
    system: list[str] = []
    messages: list[Message] = []
    for n, item in enumerate(v.array(value, "messages", non_empty=True)):
        where = f"messages[{n}]"
        message = v.obj(item, where)
        role = message.get("role")
        content = message.get("content")
        name = v.optional_string(message.get("name"), f"{where}.name")
        if role in ("system", "developer"):
            parts = _parts(content, f"{where}.content", images=False)
            # Part by part, not joined: redaction reads a value split over two parts
            # joined, and one part's value that would run on into the next alone.
            system.extend(p.text for p in parts if isinstance(p, TextPart))
        elif role == "user":
            parts = _parts(content, f"{where}.content", images=True)
            messages.append(Message("user", parts, name=name))
        elif role == "assistant":
            parts = [] if content is None else _parts(content, f"{where}.content", images=False)
            calls = message.get("tool_calls")
            tool_calls = [] if calls is None else _tool_calls(calls, f"{where}.tool_calls")
            messages.append(Message("assistant", parts, tool_calls, name=name))
        elif role == "tool":
            call_id = v.string(message.get("tool_call_id"), f"{where}.tool_call_id")
            result = ToolResult(call_id, _parts(content, f"{where}.content", images=False))
            messages.append(Message("tool", tool_result=result))
        else:
            # Never echo the value: an error message must hold no request content.
            raise InvalidRequest(
                f"{where}.role must be system, developer, user, assistant or tool",
                param=f"{where}.role",
            )
    return system, messages


def _tools(value: Any) -> list[Tool]:
    tools = []
    for n, item in enumerate(v.array(value, "tools")):
        where = f"tools[{n}]"
        tool = v.obj(item, where)
        if tool.get("type") != "function":
            raise InvalidRequest("only function tools are supported", param=f"{where}.type")
        function = v.obj(tool.get("function"), f"{where}.function")
        parameters = function.get("parameters")
        tools.append(
            Tool(
                name=v.string(function.get("name"), f"{where}.function.name"),
                description=v.optional_string(
                    function.get("description"), f"{where}.function.description"
                ),
                parameters=_EMPTY_SCHEMA
                if parameters is None
                else v.obj(parameters, f"{where}.function.parameters"),
            )
        )
    return tools


def _tool_choice(value: Any) -> ToolChoice:
    if value in ("auto", "none", "required"):
        return str(value)
    choice = v.obj(value, "tool_choice")
    function = v.obj(choice.get("function"), "tool_choice.function")
    return v.string(function.get("name"), "tool_choice.function.name")


def decode_request(body: Any) -> ChatRequest:
    body = v.obj(body, "body")
    system, messages = _messages(body.get("messages"))
    request = ChatRequest(
        model=v.string(body.get("model"), "model"), messages=messages, system=system
    )
    # n > 1 would ask every provider for several answers and we relay only the first.
    if body.get("n") not in (None, 1):
        raise InvalidRequest("only n=1 is supported", param="n")
    for field in ("max_completion_tokens", "max_tokens"):
        if body.get(field) is not None:
            request.max_tokens = v.positive_int(body[field], field)
            break
    if body.get("temperature") is not None:
        request.temperature = v.number(body["temperature"], "temperature", 0, 2)
    if body.get("top_p") is not None:
        request.top_p = v.number(body["top_p"], "top_p", 0, 1)
    stop = body.get("stop")
    if stop is not None:
        request.stop = [stop] if isinstance(stop, str) else v.string_list(stop, "stop")
    if body.get("tools") is not None:
        request.tools = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        request.tool_choice = _tool_choice(body["tool_choice"])
    if body.get("stream") is not None:
        request.stream = v.boolean(body["stream"], "stream")
    options = body.get("stream_options")
    if options is not None:
        if not request.stream:
            raise InvalidRequest(
                "stream_options is only allowed when stream is true", param="stream_options"
            )
        include = v.obj(options, "stream_options").get("include_usage")
        request.include_usage = include is not None and v.boolean(
            include, "stream_options.include_usage"
        )
    request.user = v.optional_string(body.get("user"), "user")
    return request


def _finish(reason: FinishReason) -> str:
    return "stop" if reason == "error" else reason


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


class OpenAIClientCodec:
    def decode_request(self, body: Any) -> ChatRequest:
        return decode_request(body)

    def encode_response(self, response: ChatResponse, request_id: str, model: str) -> bytes:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(p.text for p in response.content) or None,
            "refusal": None,
        }
        if response.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in response.tool_calls
            ]
        body = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": _finish(response.finish_reason),
                }
            ],
            "usage": _usage(response.usage),
        }
        return orjson.dumps(body)

    def stream_encoder(
        self, request: ChatRequest, request_id: str, model: str
    ) -> OpenAIStreamEncoder:
        return OpenAIStreamEncoder(f"chatcmpl-{request_id}", model, request.include_usage)

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes:
        return orjson.dumps(error_body(error_type, message, param))


def error_body(error_type: str, message: str, param: str | None = None) -> dict[str, Any]:
    neutral = ErrorType(error_type)
    return {
        "error": {
            "message": message,
            "type": OPENAI_TYPES[neutral],
            "param": param,
            "code": neutral.value,
        }
    }


class OpenAIStreamEncoder:
    """`chat.completion.chunk` SSE: role first, then deltas, finish, usage, [DONE]."""

    def __init__(self, chunk_id: str, model: str, include_usage: bool) -> None:
        self._id = chunk_id
        self._model = model
        self._include_usage = include_usage
        self._created = int(time.time())
        self._started = False

    def _chunk(self, choices: list[dict[str, Any]], usage: Usage | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        if self._include_usage:
            # OpenAI: "All other chunks will also include a usage field, but with a null value."
            body["usage"] = None if usage is None else _usage(usage)
        return b"data: " + orjson.dumps(body) + b"\n\n"

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self._chunk(
            [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        )

    def encode(self, event: StreamEvent) -> bytes:
        out = b""
        if not self._started:
            self._started = True
            out = self._delta({"role": "assistant", "content": "", "refusal": None})
        if isinstance(event, TextDelta):
            out += self._delta({"content": event.text})
        elif isinstance(event, ToolCallDelta):
            call: dict[str, Any] = {"index": event.index}
            function: dict[str, Any] = {"arguments": event.arguments}
            if event.id is not None:
                call["id"] = event.id
                call["type"] = "function"
            if event.name is not None:
                function["name"] = event.name
            call["function"] = function
            out += self._delta({"tool_calls": [call]})
        elif isinstance(event, StreamEnd):
            out += self._delta({}, _finish(event.finish_reason))
            if self._include_usage:
                out += self._chunk([], event.usage or Usage())
            out += b"data: [DONE]\n\n"
        return out

    def encode_error(self, status: int, error_type: str, message: str) -> bytes:
        return b"data: " + orjson.dumps(error_body(error_type, message)) + b"\n\n"
