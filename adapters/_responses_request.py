"""Reading an OpenAI Responses request (CreateResponse) into the chat model.

Every top-level field of OpenAI's published CreateResponse schema has a decision here,
and README "Request fields" lists them: carried to the providers (through the same
chat fields, so feature translation and candidate skipping apply), or refused with a
400 that names the field. A field outside the schema is refused too.

The sidecar keeps no conversation state: the fields that ask OpenAI to keep or fetch
one (`store: true`, `previous_response_id`, `conversation`, `prompt`, `background`)
are refused, and a conversation travels whole in `input`. What the answer repeats of
the request (instructions, tools, metadata...) is serialized here, once, from the
client's own values, into `ChatRequest.echo`.
"""

from __future__ import annotations

from typing import Any

import orjson

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._model import (
    ChatRequest,
    ReasoningEffort,
    ResponseFormat,
    Tool,
    ToolChoice,
    Verbosity,
)
from adapters._openai_request import _TIERS, _metadata, _prompt_cache
from adapters._responses_input import read_input

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
_STATELESS = (
    "the sidecar keeps no conversation state (the next turn may be answered by another "
    "provider, which cannot read what one provider stored); send the whole conversation "
    "in input, with the earlier response's output items"
)
# Fields the sidecar cannot serve whatever their value (null aside); each refused with why.
_REFUSED = {
    "previous_response_id": f"previous_response_id is not supported: {_STATELESS}",
    "conversation": f"conversation is not supported: {_STATELESS}",
    "prompt": "prompt templates are stored at OpenAI and are not supported; send "
    "instructions and input",
    "context_management": "context_management (compaction at OpenAI) is not supported",
    "moderation": "provider-side moderation is not supported",
}
_KNOWN = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "max_tool_calls",
        "temperature",
        "top_p",
        "top_logprobs",
        "text",
        "reasoning",
        "include",
        "stream",
        "stream_options",
        "store",
        "background",
        "truncation",
        "metadata",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "service_tier",
        *_REFUSED,
    }
)
_EFFORTS: tuple[ReasoningEffort, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_VERBOSITY: tuple[Verbosity, ...] = ("low", "medium", "high")
_LOGPROBS = "message.output_text.logprobs"
# Encrypted reasoning rides in reasoning items, which the sidecar's answers never carry:
# asking for it (as stateless clients such as Codex do) is honoured by there being none.
_INCLUDES = (_LOGPROBS, "reasoning.encrypted_content")
_TOOL_FIELDS = (
    "type",
    "name",
    "description",
    "parameters",
    "strict",
    "defer_loading",
    "allowed_callers",
    "output_schema",
)


def _tools(value: Any) -> tuple[list[Tool], bool, list[dict[str, Any]]]:
    """The tools, whether they are strict (one flag per request), and their echo."""
    tools = []
    echoed = []
    strict: set[bool] = set()
    for n, item in enumerate(v.array(value, "tools")):
        where = f"tools[{n}]"
        tool = v.obj(item, where)
        if tool.get("type") != "function":
            raise InvalidRequest(
                "only function tools are supported (built-in tools such as web_search, "
                "file_search and code_interpreter run at OpenAI and are not served)",
                param=f"{where}.type",
            )
        v.known(tool, where, _TOOL_FIELDS)
        for field in ("output_schema", "allowed_callers"):
            if tool.get(field) is not None:
                raise InvalidRequest(f"{where}.{field} is not supported", param=f"{where}.{field}")
        if tool.get("defer_loading") is not None and v.boolean(
            tool["defer_loading"], f"{where}.defer_loading"
        ):
            raise InvalidRequest("deferred tool loading is not supported", f"{where}.defer_loading")
        parameters = tool.get("parameters")
        flag = tool.get("strict")
        strict.add(flag is not None and v.boolean(flag, f"{where}.strict"))
        tools.append(
            Tool(
                name=v.string(tool.get("name"), f"{where}.name"),
                description=v.optional_string(tool.get("description"), f"{where}.description"),
                parameters=_EMPTY_SCHEMA
                if parameters is None
                else v.obj(parameters, f"{where}.parameters"),
            )
        )
        echoed.append(
            {
                "type": "function",
                "name": tool["name"],
                "description": tool.get("description"),
                "parameters": parameters,
                "strict": flag,
            }
        )
    if len(strict) > 1:
        raise InvalidRequest("tools must be all strict or all non-strict", param="tools[0].strict")
    return tools, strict == {True}, echoed


def _tool_choice(value: Any, tools: list[Tool]) -> tuple[ToolChoice, list[Tool]]:
    """The choice, and the tools to offer: `allowed_tools` narrows the list sent."""
    if value in ("auto", "none", "required"):
        return str(value), tools
    choice = v.obj(value, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        v.known(choice, "tool_choice", ("type", "name"))
        return v.string(choice.get("name"), "tool_choice.name"), tools
    if kind == "allowed_tools":
        v.known(choice, "tool_choice", ("type", "mode", "tools"))
        mode = v.choice(choice.get("mode"), "tool_choice.mode", ("auto", "required"))
        names = set()
        for n, item in enumerate(v.array(choice.get("tools"), "tool_choice.tools")):
            where = f"tool_choice.tools[{n}]"
            entry = v.obj(item, where)
            if entry.get("type") != "function":
                raise InvalidRequest("only function tools are supported", param=f"{where}.type")
            names.add(v.string(entry.get("name"), f"{where}.name"))
        offered = [t for t in tools if t.name in names]
        if len(offered) != len(names):
            raise InvalidRequest(
                "tool_choice.tools names a tool that is not in tools", param="tool_choice.tools"
            )
        return mode or "auto", offered
    raise InvalidRequest(
        "tool_choice must be none, auto, required, a function or allowed_tools (built-in "
        "tools are not served)",
        param="tool_choice",
    )


def _format(value: Any) -> ResponseFormat | None:
    fmt = v.obj(value, "text.format")
    kind = fmt.get("type")
    if kind == "text":
        v.known(fmt, "text.format", ("type",))
        return None
    if kind == "json_object":
        v.known(fmt, "text.format", ("type",))
        return ResponseFormat()
    if kind != "json_schema":
        raise InvalidRequest(
            "text.format.type must be text, json_object or json_schema", param="text.format.type"
        )
    v.known(fmt, "text.format", ("type", "name", "description", "schema", "strict"))
    strict = fmt.get("strict")
    return ResponseFormat(
        schema=v.obj(fmt.get("schema"), "text.format.schema"),
        name=v.name(fmt.get("name"), "text.format.name"),
        description=v.optional_string(fmt.get("description"), "text.format.description"),
        strict=None if strict is None else v.boolean(strict, "text.format.strict"),
    )


def _text(value: Any, request: ChatRequest) -> dict[str, Any]:
    """Reads `text` into the request; returns its echo."""
    text = v.obj(value, "text")
    v.known(text, "text", ("format", "verbosity"))
    if text.get("format") is not None:
        request.response_format = _format(text["format"])
    request.verbosity = v.choice(text.get("verbosity"), "text.verbosity", _VERBOSITY)
    echo: dict[str, Any] = {"format": text.get("format") or {"type": "text"}}
    if request.verbosity is not None:
        echo["verbosity"] = request.verbosity
    return echo


def _reasoning(value: Any, request: ChatRequest) -> None:
    reasoning = v.obj(value, "reasoning")
    v.known(reasoning, "reasoning", ("effort", "summary", "generate_summary", "mode", "context"))
    for field in ("summary", "generate_summary", "mode", "context"):
        if reasoning.get(field) is not None:
            raise InvalidRequest(
                f"reasoning.{field} is not supported: the answer carries no reasoning items",
                param=f"reasoning.{field}",
            )
    request.reasoning_effort = v.choice(reasoning.get("effort"), "reasoning.effort", _EFFORTS)


def _include(value: Any, request: ChatRequest) -> None:
    for n, entry in enumerate(v.array(value, "include")):
        if v.choice(entry, f"include[{n}]", _INCLUDES) == _LOGPROBS:
            request.logprobs = True


def _refuse(body: dict[str, Any]) -> None:
    for field, reason in _REFUSED.items():
        if body.get(field) is not None:
            raise InvalidRequest(reason, param=field)
    for key, value in body.items():
        # A null asks for nothing, whatever its name: clients send unset fields so.
        if key not in _KNOWN and value is not None:
            raise v.unknown_field(key, None)
    if body.get("store") is not None and v.boolean(body["store"], "store"):
        raise InvalidRequest(
            "store: true is not supported: the sidecar never asks a provider to keep a "
            f"response (its own audit record keeps the decision), and {_STATELESS}",
            param="store",
        )
    if body.get("background") is not None and v.boolean(body["background"], "background"):
        raise InvalidRequest(
            "background responses are kept and polled at OpenAI; not supported",
            param="background",
        )
    if v.choice(body.get("truncation"), "truncation", ("auto", "disabled")) == "auto":
        raise InvalidRequest(
            "truncation: auto is not supported: the sidecar never drops part of a "
            "conversation (a provider refuses one too long for its context window)",
            param="truncation",
        )


def decode_request(body: Any) -> ChatRequest:
    body = v.obj(body, "body")
    _refuse(body)
    instructions = v.optional_string(body.get("instructions"), "instructions")
    system, messages = read_input(body.get("input"))
    request = ChatRequest(
        model=v.string(body.get("model"), "model"),
        messages=messages,
        system=[instructions, *system] if instructions is not None else system,
    )
    echoed_tools: list[dict[str, Any]] = []
    if body.get("tools") is not None:
        request.tools, request.strict_tools, echoed_tools = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        request.tool_choice, request.tools = _tool_choice(body["tool_choice"], request.tools)
    if body.get("parallel_tool_calls") is not None:
        request.parallel_tool_calls = v.boolean(body["parallel_tool_calls"], "parallel_tool_calls")
    if body.get("max_output_tokens") is not None:
        request.max_tokens = v.positive_int(body["max_output_tokens"], "max_output_tokens")
    if body.get("max_tool_calls") is not None:
        # It bounds calls to built-in tools, which are refused: met by there being none.
        v.integer(body["max_tool_calls"], "max_tool_calls", 0, 2**31 - 1)
    if body.get("temperature") is not None:
        request.temperature = v.number(body["temperature"], "temperature", 0, 2)
    if body.get("top_p") is not None:
        request.top_p = v.number(body["top_p"], "top_p", 0, 1)
    text = (
        {"format": {"type": "text"}} if body.get("text") is None else _text(body["text"], request)
    )
    if body.get("reasoning") is not None:
        _reasoning(body["reasoning"], request)
    if body.get("include") is not None:
        _include(body["include"], request)
    if body.get("top_logprobs") is not None:
        if not request.logprobs:
            raise InvalidRequest(f"top_logprobs needs include: [{_LOGPROBS}]", param="top_logprobs")
        request.top_logprobs = v.integer(body["top_logprobs"], "top_logprobs", 0, 20)
    if body.get("stream") is not None:
        request.stream = v.boolean(body["stream"], "stream")
    _stream_options(body.get("stream_options"), request)
    if body.get("service_tier") is not None:
        tier = v.choice(body["service_tier"], "service_tier", tuple(_TIERS))
        request.service_tier = _TIERS[tier] if tier is not None else None
    request.user = v.optional_string(body.get("user"), "user")
    request.safety_identifier = v.optional_string(
        body.get("safety_identifier"), "safety_identifier"
    )
    request.prompt_cache = _prompt_cache(body)
    if body.get("metadata") is not None:
        _metadata(body["metadata"])
    request.echo = _echo(body, request, echoed_tools, text)
    return request


def _stream_options(options: Any, request: ChatRequest) -> None:
    if options is None:
        return
    if not request.stream:
        raise InvalidRequest(
            "stream_options is only allowed when stream is true", param="stream_options"
        )
    options = v.obj(options, "stream_options")
    v.known(options, "stream_options", ("include_obfuscation",))
    obfuscation = options.get("include_obfuscation")
    request.obfuscate = obfuscation is not None and v.boolean(
        obfuscation, "stream_options.include_obfuscation"
    )


def _echo(
    body: dict[str, Any],
    request: ChatRequest,
    tools: list[dict[str, Any]],
    text: dict[str, Any],
) -> bytes:
    """The Response object's members that repeat the request, as JSON members.

    The client's own values (checked above), never the redacted ones; the defaults a
    provider applies are left null rather than guessed.
    """
    echo = {
        "instructions": body.get("instructions"),
        "metadata": body.get("metadata") or {},
        "tools": tools,
        "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_output_tokens": request.max_tokens,
        "max_tool_calls": body.get("max_tool_calls"),
        "text": text,
        "reasoning": {"effort": request.reasoning_effort, "summary": None},
        "truncation": "disabled",
        "previous_response_id": None,
        "background": False,
        "top_logprobs": request.top_logprobs,
        "safety_identifier": request.safety_identifier,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": body.get("prompt_cache_retention"),
    }
    if request.user is not None:
        echo["user"] = request.user  # a string or absent: OpenAI's schema has no null here
    return orjson.dumps(echo)[1:-1]
