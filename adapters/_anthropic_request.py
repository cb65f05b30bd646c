"""Reading an Anthropic Messages request (MessageCreateParams) into the shared model.

Every top-level field of the Messages API has a decision here, and README "Request
fields" lists them: carried to the providers, or refused with a 400 that names the
field. A field the API does not define is refused too, so no field is accepted and
then silently dropped.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._model import (
    CacheBreakpoint,
    ChatRequest,
    ImagePart,
    Message,
    Part,
    ReasoningEffort,
    ResponseFormat,
    TextPart,
    Thinking,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
)

_KNOWN = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "system",
        "metadata",
        "stop_sequences",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "tools",
        "tool_choice",
        "thinking",
        "service_tier",
        "output_config",
        "cache_control",
        "inference_geo",
        "speed",
    }
)
# Fields that only make sense against Anthropic's own account and servers.
_REFUSED = {
    "container": "code execution containers are not supported",
    "mcp_servers": "MCP servers are not supported; give the model client tools",
    "context_management": "server-side context management is not supported",
    "diagnostics": "diagnostics are not supported",
    "user_profile_id": "user_profile_id is not supported",
    "workspace_id": "workspace_id is not supported: the sidecar holds the provider keys",
}
# Blocks a client may echo back from an earlier answer that carry nothing to route.
_IGNORED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
_TOOL_FIELDS = ("type", "name", "description", "input_schema", "cache_control", "strict")
_EFFORTS: tuple[ReasoningEffort, ...] = ("low", "medium", "high", "xhigh", "max")
_TTLS: tuple[Literal["5m", "1h"], ...] = ("5m", "1h")
_THINKING: tuple[Literal["enabled", "disabled", "adaptive", "between_tools"], ...] = (
    "enabled",
    "disabled",
    "adaptive",
    "between_tools",
)
_DISPLAY: tuple[Literal["summarized", "omitted"], ...] = ("summarized", "omitted")
_GEO = re.compile(r"[a-z0-9_-]{1,32}")


def _cache(block: dict[str, Any], where: str) -> CacheBreakpoint | None:
    """The block's cache_control as a breakpoint to be placed by the caller, if any."""
    value = block.get("cache_control")
    if value is None:
        return None
    param = f"{where}.cache_control" if where else "cache_control"
    control = v.obj(value, param)
    v.known(control, param, ("type", "ttl"))
    if control.get("type") != "ephemeral":
        raise InvalidRequest("cache_control.type must be ephemeral", param=f"{param}.type")
    return CacheBreakpoint("request", ttl=v.choice(control.get("ttl"), f"{param}.ttl", _TTLS))


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


class _Turn:
    """One Anthropic turn read into messages: its tool results first, then its text."""

    def __init__(self, role: str, first: int) -> None:
        self.role = role
        self.first = first  # index of the turn's first message in the request
        self.results: list[Message] = []
        self.parts: list[Part] = []
        self.calls: list[ToolCall] = []
        # (result index, or None for the turn's own message; part; is a call; ttl)
        self.marks: list[tuple[int | None, int, bool, CacheBreakpoint]] = []

    def messages(self) -> list[Message]:
        if self.role == "assistant":
            return [Message("assistant", self.parts, self.calls)]
        own = [Message("user", self.parts)] if self.parts or not self.results else []
        return self.results + own

    def breakpoints(self) -> list[CacheBreakpoint]:
        own = self.first + len(self.results)
        marks = []
        for result, part, is_call, mark in self.marks:
            index = own if result is None else self.first + result
            at = len(self.parts) + part if is_call else part
            marks.append(CacheBreakpoint("messages", index, at, mark.ttl))
        return marks


def _turn(role: str, content: Any, where: str, first: int) -> _Turn:
    turn = _Turn(role, first)
    if isinstance(content, str):
        turn.parts.append(TextPart(content))
        return turn
    for n, item in enumerate(v.array(content, f"{where}.content")):
        at = f"{where}.content[{n}]"
        block = v.obj(item, at)
        kind = block.get("type")
        cached = _cache(block, at)
        mark: tuple[int | None, int, bool] | None = None
        if kind == "text":
            mark = (None, len(turn.parts), False)
            turn.parts.append(TextPart(v.string(block.get("text"), f"{at}.text")))
        elif kind == "image" and role == "user":
            mark = (None, len(turn.parts), False)
            turn.parts.append(_image(block, at))
        elif kind == "tool_use" and role == "assistant":
            mark = (None, len(turn.calls), True)
            arguments = orjson.dumps(v.obj(block.get("input"), f"{at}.input")).decode()
            turn.calls.append(
                ToolCall(
                    v.string(block.get("id"), f"{at}.id"),
                    v.string(block.get("name"), f"{at}.name"),
                    arguments,
                )
            )
        elif kind == "tool_result" and role == "user":
            mark = (len(turn.results), 0, False)
            is_error = block.get("is_error")
            result = ToolResult(
                v.string(block.get("tool_use_id"), f"{at}.tool_use_id"),
                _result_parts(block.get("content"), f"{at}.content"),
                is_error is not None and v.boolean(is_error, f"{at}.is_error"),
            )
            turn.results.append(Message("tool", tool_result=result))
        elif not isinstance(kind, str) or kind not in _IGNORED_BLOCKS:  # dicts are unhashable
            raise InvalidRequest(
                f"{at}.type is not a supported content block type", param=f"{at}.type"
            )
        if mark is not None and cached is not None:
            turn.marks.append((*mark, cached))
    return turn


def _system(value: Any, request: ChatRequest) -> None:
    if isinstance(value, str):
        request.system = [value]
        return
    for n, item in enumerate(v.array(value, "system")):
        block = v.obj(item, f"system[{n}]")
        if block.get("type") != "text":
            raise InvalidRequest("system blocks must be text", param=f"system[{n}].type")
        request.system.append(v.string(block.get("text"), f"system[{n}].text"))
        cached = _cache(block, f"system[{n}]")
        if cached is not None:
            request.cache += (CacheBreakpoint("system", n, 0, cached.ttl),)


def _tools(value: Any, request: ChatRequest) -> None:
    strict: set[bool] = set()
    for n, item in enumerate(v.array(value, "tools")):
        tool = v.obj(item, f"tools[{n}]")
        if tool.get("type") not in (None, "custom"):
            raise InvalidRequest("only client tools are supported", param=f"tools[{n}].type")
        v.known(tool, f"tools[{n}]", _TOOL_FIELDS)
        flag = tool.get("strict")
        strict.add(flag is not None and v.boolean(flag, f"tools[{n}].strict"))
        request.tools.append(
            Tool(
                name=v.string(tool.get("name"), f"tools[{n}].name"),
                description=v.optional_string(tool.get("description"), f"tools[{n}].description"),
                parameters=v.obj(tool.get("input_schema"), f"tools[{n}].input_schema"),
            )
        )
        cached = _cache(tool, f"tools[{n}]")
        if cached is not None:
            request.cache += (CacheBreakpoint("tools", n, 0, cached.ttl),)
    if len(strict) > 1:
        raise InvalidRequest("tools must be all strict or all non-strict", param="tools")
    request.strict_tools = strict == {True}


def _tool_choice(value: Any, request: ChatRequest) -> None:
    choice = v.obj(value, "tool_choice")
    kind = choice.get("type")
    serial = choice.get("disable_parallel_tool_use")
    if serial is not None and v.boolean(serial, "tool_choice.disable_parallel_tool_use"):
        request.parallel_tool_calls = False
    picked: ToolChoice
    if kind in ("auto", "none"):
        picked = str(kind)
    elif kind == "any":
        picked = "required"
    elif kind == "tool":
        picked = v.string(choice.get("name"), "tool_choice.name")
    else:
        raise InvalidRequest(
            "tool_choice.type must be auto, any, tool or none", param="tool_choice.type"
        )
    request.tool_choice = picked


def _thinking(value: Any) -> Thinking:
    thinking = v.obj(value, "thinking")
    kind = v.choice(thinking.get("type"), "thinking.type", _THINKING)
    if kind is None:
        raise InvalidRequest("'thinking.type' is required", param="thinking.type")
    display = v.choice(thinking.get("display"), "thinking.display", _DISPLAY)
    budget = None
    if kind == "enabled":
        budget = v.integer(thinking.get("budget_tokens"), "thinking.budget_tokens", 1024, 2**31)
    return Thinking(kind, budget, display)


def _output_config(value: Any, request: ChatRequest) -> None:
    config = v.obj(value, "output_config")
    v.known(config, "output_config", ("format", "effort"))
    request.reasoning_effort = v.choice(config.get("effort"), "output_config.effort", _EFFORTS)
    if config.get("format") is None:
        return
    fmt = v.obj(config["format"], "output_config.format")
    v.known(fmt, "output_config.format", ("type", "schema"))
    if fmt.get("type") != "json_schema":
        raise InvalidRequest(
            "output_config.format.type must be json_schema", param="output_config.format.type"
        )
    schema = v.obj(fmt.get("schema"), "output_config.format.schema")
    # Anthropic's structured outputs are always strict.
    request.response_format = ResponseFormat(schema=schema, strict=True)


def _refuse(body: dict[str, Any]) -> None:
    for field, reason in _REFUSED.items():
        if body.get(field) is not None:
            raise InvalidRequest(reason, param=field)
    for key, value in body.items():
        # A null asks for nothing, whatever its name: clients send unset fields so.
        if key not in _KNOWN and key not in _REFUSED and value is not None:
            raise v.unknown_field(key, None)


def decode_request(body: Any) -> ChatRequest:
    body = v.obj(body, "body")
    _refuse(body)
    model = v.string(body.get("model"), "model")
    max_tokens = v.positive_int(body.get("max_tokens"), "max_tokens")
    request = ChatRequest(model=model, messages=[], max_tokens=max_tokens)
    for n, item in enumerate(v.array(body.get("messages"), "messages", non_empty=True)):
        message = v.obj(item, f"messages[{n}]")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise InvalidRequest("role must be user or assistant", param=f"messages[{n}].role")
        turn = _turn(str(role), message.get("content"), f"messages[{n}]", len(request.messages))
        request.messages.extend(turn.messages())
        request.cache += tuple(turn.breakpoints())
    if body.get("system") is not None:
        _system(body["system"], request)
    _sampling(body, request)
    if body.get("tools") is not None:
        _tools(body["tools"], request)
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], request)
    if body.get("stream") is not None:
        request.stream = v.boolean(body["stream"], "stream")
    _options(body, request)
    return request


def _sampling(body: dict[str, Any], request: ChatRequest) -> None:
    if body.get("temperature") is not None:
        request.temperature = v.number(body["temperature"], "temperature", 0, 1)
    if body.get("top_p") is not None:
        request.top_p = v.number(body["top_p"], "top_p", 0, 1)
    if body.get("top_k") is not None:
        request.top_k = v.positive_int(body["top_k"], "top_k")
    if body.get("stop_sequences") is not None:
        request.stop = v.string_list(body["stop_sequences"], "stop_sequences")


def _options(body: dict[str, Any], request: ChatRequest) -> None:
    metadata = body.get("metadata")
    if metadata is not None:
        metadata = v.obj(metadata, "metadata")
        v.known(metadata, "metadata", ("user_id",))
        request.user = v.optional_string(metadata.get("user_id"), "metadata.user_id")
    if body.get("thinking") is not None:
        request.thinking = _thinking(body["thinking"])
    if body.get("output_config") is not None:
        _output_config(body["output_config"], request)
    tier = v.choice(body.get("service_tier"), "service_tier", ("auto", "standard_only"))
    if tier is not None:
        request.service_tier = "auto" if tier == "auto" else "standard"
    request.fast = v.choice(body.get("speed"), "speed", ("standard", "fast")) == "fast"
    geo = v.optional_string(body.get("inference_geo"), "inference_geo")
    if geo is not None and not _GEO.fullmatch(geo):
        raise InvalidRequest("'inference_geo' must be a region name", param="inference_geo")
    request.inference_geo = geo
    cached = _cache(body, "")
    if cached is not None:
        request.cache = (cached, *request.cache)
