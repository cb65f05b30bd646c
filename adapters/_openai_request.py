"""Reading an OpenAI Chat Completions request (CreateChatCompletionRequest) into the model.

Every top-level field of OpenAI's published request schema has a decision here, and
README "Request fields" lists them: carried to the providers, or refused with a 400
that names the field. A field outside the schema is refused too, so no field is ever
accepted and then silently dropped.

System and developer messages are hoisted, in order, into `ChatRequest.system`
wherever they appear: Anthropic and Gemini only take a top-level system prompt, and
clients put them first in practice. Every other message keeps its position.
"""

from __future__ import annotations

from typing import Any, Literal

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._model import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    PromptCache,
    ReasoningEffort,
    ResponseFormat,
    ServiceTier,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    ToolResult,
    Verbosity,
)

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# Fields the sidecar cannot serve; each is refused with the reason given.
_REFUSED = {
    "audio": "audio output is not supported",
    "web_search_options": "web search is not supported; give the model a function tool",
    "moderation": "provider-side moderation is not supported",
    "functions": "functions is deprecated and not supported; use tools",
    "function_call": "function_call is deprecated and not supported; use tool_choice",
}
_KNOWN = frozenset(
    {
        "messages",
        "model",
        "modalities",
        "reasoning_effort",
        "verbosity",
        "max_completion_tokens",
        "max_tokens",
        "frequency_penalty",
        "presence_penalty",
        "top_logprobs",
        "logprobs",
        "response_format",
        "store",
        "metadata",
        "stream",
        "stream_options",
        "stop",
        "logit_bias",
        "n",
        "prediction",
        "seed",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "temperature",
        "top_p",
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        "service_tier",
    }
)
_COMMON = frozenset(
    {
        "messages",
        "model",
        "max_completion_tokens",
        "max_tokens",
        "temperature",
        "top_p",
        "stop",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "user",
    }
)
_TIERS: dict[str, ServiceTier] = {
    "auto": "auto",
    "default": "standard",
    "flex": "flex",
    "scale": "scale",
    "priority": "priority",
    "fast": "fast",
}
_EFFORTS: tuple[ReasoningEffort, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_VERBOSITY: tuple[Verbosity, ...] = ("low", "medium", "high")
_DETAILS: tuple[Literal["auto", "low", "high"], ...] = ("auto", "low", "high")
_RETENTIONS: tuple[Literal["in_memory", "24h"], ...] = ("in_memory", "24h")
_CACHE_TTLS: tuple[Literal["30m"], ...] = ("30m",)
_CACHE_MODES: tuple[Literal["implicit", "explicit"], ...] = ("implicit", "explicit")


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
            detail = v.choice(image.get("detail"), f"{where}.image_url.detail", _DETAILS)
            url = v.string(image.get("url"), f"{where}.image_url.url")
            parts.append(ImagePart(url, detail=detail))
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
        if call.get("type", "function") != "function":
            raise InvalidRequest("only function tool calls are supported", param=f"{where}.type")
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
            if message.get("audio") is not None or message.get("function_call") is not None:
                field = "audio" if message.get("audio") is not None else "function_call"
                raise InvalidRequest(f"{where}.{field} is not supported", param=f"{where}.{field}")
            parts = [] if content is None else _parts(content, f"{where}.content", images=False)
            refusal = v.optional_string(message.get("refusal"), f"{where}.refusal")
            if refusal:
                parts.append(TextPart(refusal))  # an earlier refusal stays in the history
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


def _tools(value: Any) -> tuple[list[Tool], bool]:
    """The tools, and whether they are strict (all or none: one flag per request)."""
    tools = []
    strict: set[bool] = set()
    for n, item in enumerate(v.array(value, "tools")):
        where = f"tools[{n}]"
        tool = v.obj(item, where)
        if tool.get("type") != "function":
            raise InvalidRequest("only function tools are supported", param=f"{where}.type")
        function = v.obj(tool.get("function"), f"{where}.function")
        v.known(function, f"{where}.function", ("name", "description", "parameters", "strict"))
        parameters = function.get("parameters")
        flag = function.get("strict")
        strict.add(flag is not None and v.boolean(flag, f"{where}.function.strict"))
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
    if len(strict) > 1:
        # Anthropic and Gemini take no per-tool flag through the shared model.
        raise InvalidRequest(
            "tools must be all strict or all non-strict", param="tools[0].function.strict"
        )
    return tools, strict == {True}


def _tool_choice(value: Any, tools: list[Tool]) -> tuple[ToolChoice, list[Tool]]:
    """The choice, and the tools to offer: `allowed_tools` narrows the list sent."""
    if value in ("auto", "none", "required"):
        return str(value), tools
    choice = v.obj(value, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        function = v.obj(choice.get("function"), "tool_choice.function")
        return v.string(function.get("name"), "tool_choice.function.name"), tools
    if kind == "allowed_tools":
        allowed = v.obj(choice.get("allowed_tools"), "tool_choice.allowed_tools")
        mode = v.choice(allowed.get("mode"), "tool_choice.allowed_tools.mode", ("auto", "required"))
        names = set()
        for n, item in enumerate(v.array(allowed.get("tools"), "tool_choice.allowed_tools.tools")):
            where = f"tool_choice.allowed_tools.tools[{n}]"
            entry = v.obj(item, where)
            if entry.get("type") != "function":
                raise InvalidRequest("only function tools are supported", param=f"{where}.type")
            function = v.obj(entry.get("function"), f"{where}.function")
            names.add(v.string(function.get("name"), f"{where}.function.name"))
        offered = [t for t in tools if t.name in names]
        if len(offered) != len(names):
            raise InvalidRequest(
                "tool_choice.allowed_tools names a tool that is not in tools",
                param="tool_choice.allowed_tools.tools",
            )
        return mode or "auto", offered
    raise InvalidRequest(
        "tool_choice must be none, auto, required, a function or allowed_tools",
        param="tool_choice",
    )


def _response_format(value: Any) -> ResponseFormat | None:
    fmt = v.obj(value, "response_format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat()
    if kind != "json_schema":
        raise InvalidRequest(
            "response_format.type must be text, json_object or json_schema",
            param="response_format.type",
        )
    spec = v.obj(fmt.get("json_schema"), "response_format.json_schema")
    v.known(spec, "response_format.json_schema", ("name", "description", "schema", "strict"))
    schema = spec.get("schema")
    strict = spec.get("strict")
    return ResponseFormat(
        schema={} if schema is None else v.obj(schema, "response_format.json_schema.schema"),
        name=v.name(spec.get("name"), "response_format.json_schema.name"),
        description=v.optional_string(
            spec.get("description"), "response_format.json_schema.description"
        ),
        strict=None if strict is None else v.boolean(strict, "response_format.json_schema.strict"),
    )


def _logit_bias(value: Any) -> dict[str, int]:
    bias = v.obj(value, "logit_bias")
    for token, weight in bias.items():
        if not token.isdigit():
            raise InvalidRequest("logit_bias keys must be token ids", param="logit_bias")
        v.integer(weight, f"logit_bias.{token}", -100, 100)
    return bias


def _prediction(value: Any) -> str:
    prediction = v.obj(value, "prediction")
    if prediction.get("type") != "content":
        raise InvalidRequest("prediction.type must be content", param="prediction.type")
    parts = _parts(prediction.get("content"), "prediction.content", images=False)
    return "".join(p.text for p in parts if isinstance(p, TextPart))


def _metadata(value: Any) -> None:
    """Checked as OpenAI checks it, then not sent (README: metadata tags stored
    completions, and the sidecar never asks a provider to store one)."""
    metadata = v.obj(value, "metadata")
    if len(metadata) > 16:
        raise InvalidRequest("metadata holds at most 16 pairs", param="metadata")
    for key, item in metadata.items():
        if len(key) > 64:
            raise InvalidRequest("metadata keys are at most 64 characters", param="metadata")
        if len(v.string(item, "metadata")) > 512:
            raise InvalidRequest("metadata values are at most 512 characters", param="metadata")


def _prompt_cache(body: dict[str, Any]) -> PromptCache | None:
    key = v.optional_string(body.get("prompt_cache_key"), "prompt_cache_key")
    retention = v.choice(body.get("prompt_cache_retention"), "prompt_cache_retention", _RETENTIONS)
    options = body.get("prompt_cache_options")
    ttl = mode = None
    if options is not None:
        options = v.obj(options, "prompt_cache_options")
        v.known(options, "prompt_cache_options", ("ttl", "mode"))
        ttl = v.choice(options.get("ttl"), "prompt_cache_options.ttl", _CACHE_TTLS)
        mode = v.choice(options.get("mode"), "prompt_cache_options.mode", _CACHE_MODES)
    if key is None and retention is None and ttl is None and mode is None:
        return None
    return PromptCache(key, retention, ttl, mode)


def _refuse(body: dict[str, Any]) -> None:
    for field, reason in _REFUSED.items():
        if body.get(field) is not None:
            raise InvalidRequest(reason, param=field)
    for key, value in body.items():
        # A null asks for nothing, whatever its name: clients send unset fields so.
        if key not in _KNOWN and key not in _REFUSED and value is not None:
            raise v.unknown_field(key, None)
    # n > 1 would ask every provider for several answers and we relay only the first.
    if body.get("n") not in (None, 1):
        raise InvalidRequest("only n=1 is supported", param="n")
    if body.get("store") is not None and v.boolean(body["store"], "store"):
        raise InvalidRequest(
            "store: true is not supported; the sidecar never asks a provider to keep a "
            "completion (its own audit record keeps the decision)",
            param="store",
        )
    modalities = body.get("modalities")
    if modalities is not None and v.string_list(modalities, "modalities") not in ([], ["text"]):
        raise InvalidRequest("only text output is supported", param="modalities")


def decode_request(body: Any) -> ChatRequest:
    body = v.obj(body, "body")
    # Most requests use only the common fields: one subset test spares them the ~30
    # lookups of the rest (a third of the decoding time of a typical request).
    rare = not body.keys() <= _COMMON
    if rare:
        _refuse(body)
    system, messages = _messages(body.get("messages"))
    request = ChatRequest(
        model=v.string(body.get("model"), "model"), messages=messages, system=system
    )
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
        request.tools, request.strict_tools = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        request.tool_choice, request.tools = _tool_choice(body["tool_choice"], request.tools)
    if body.get("parallel_tool_calls") is not None:
        request.parallel_tool_calls = v.boolean(body["parallel_tool_calls"], "parallel_tool_calls")
    if body.get("stream") is not None:
        request.stream = v.boolean(body["stream"], "stream")
    _stream_options(body.get("stream_options"), request)
    request.user = v.optional_string(body.get("user"), "user")
    if rare:
        _sampling(body, request)
        _options(body, request)
    return request


def _stream_options(options: Any, request: ChatRequest) -> None:
    if options is None:
        return
    if not request.stream:
        raise InvalidRequest(
            "stream_options is only allowed when stream is true", param="stream_options"
        )
    options = v.obj(options, "stream_options")
    v.known(options, "stream_options", ("include_usage", "include_obfuscation"))
    include = options.get("include_usage")
    request.include_usage = include is not None and v.boolean(
        include, "stream_options.include_usage"
    )
    obfuscation = options.get("include_obfuscation")
    request.obfuscate = obfuscation is not None and v.boolean(
        obfuscation, "stream_options.include_obfuscation"
    )


def _sampling(body: dict[str, Any], request: ChatRequest) -> None:
    if body.get("seed") is not None:
        request.seed = v.integer(body["seed"], "seed", -(2**63), 2**63 - 1)
    if body.get("presence_penalty") is not None:
        request.presence_penalty = v.number(body["presence_penalty"], "presence_penalty", -2, 2)
    if body.get("frequency_penalty") is not None:
        request.frequency_penalty = v.number(body["frequency_penalty"], "frequency_penalty", -2, 2)
    if body.get("logit_bias") is not None:
        request.logit_bias = _logit_bias(body["logit_bias"]) or None
    if body.get("logprobs") is not None:
        request.logprobs = v.boolean(body["logprobs"], "logprobs")
    if body.get("top_logprobs") is not None:
        if not request.logprobs:
            raise InvalidRequest("top_logprobs needs logprobs: true", param="top_logprobs")
        request.top_logprobs = v.integer(body["top_logprobs"], "top_logprobs", 0, 20)


def _options(body: dict[str, Any], request: ChatRequest) -> None:
    if body.get("response_format") is not None:
        request.response_format = _response_format(body["response_format"])
    if body.get("service_tier") is not None:
        tier = v.choice(body["service_tier"], "service_tier", tuple(_TIERS))
        request.service_tier = _TIERS[tier] if tier is not None else None
    request.reasoning_effort = v.choice(body.get("reasoning_effort"), "reasoning_effort", _EFFORTS)
    request.verbosity = v.choice(body.get("verbosity"), "verbosity", _VERBOSITY)
    if body.get("prediction") is not None:
        request.prediction = _prediction(body["prediction"])
    request.safety_identifier = v.optional_string(
        body.get("safety_identifier"), "safety_identifier"
    )
    request.prompt_cache = _prompt_cache(body)
    if body.get("metadata") is not None:
        _metadata(body["metadata"])
