"""The request body of a Bedrock Converse / ConverseStream call, and what each model
family on Bedrock can honour.

Converse is one shape for every model on Bedrock; what only some models take goes in
`additionalModelRequestFields`, in the model vendor's own spelling (Anthropic's
`top_k`, `thinking`), so features are declared per model family.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from adapters._base import InvalidRequest
from adapters._content import arguments_object, split_data_url
from adapters._features import Feature
from adapters._model import ChatRequest, ImagePart, Message, Part, TextPart

# Cross-Region inference profile ids start with their geography: `eu.anthropic...`
# routes within AWS's European regions, `global.` anywhere.
GEOGRAPHIES = ("global", "us-gov", "us", "eu", "apac", "jp", "au", "ca")
_PROFILE = re.compile(rf"^({'|'.join(re.escape(g) for g in GEOGRAPHIES)})\.(.+)$")
_ARN_MODEL = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:[0-9]*:[a-z-]+/(.+)$")
_IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}

# What Anthropic's models take on Bedrock beyond plain chat: `top_k` and `thinking`
# as additional fields, structured output, strict tools and effort in Converse's own.
_ANTHROPIC = frozenset(
    {
        Feature.TOP_K,
        Feature.THINKING,
        Feature.JSON_SCHEMA,
        Feature.STRICT_TOOLS,
        Feature.REASONING_EFFORT,
        Feature.REASONING_MAX,
    }
)


def split_model(model: str) -> tuple[str | None, str]:
    """(the geography of a cross-Region inference profile or None, the model id inside).

    An inference profile ARN is read by its last path part; an application inference
    profile ARN (an opaque id) names no geography and no model family.
    """
    arn = _ARN_MODEL.match(model)
    if arn is not None:
        model = arn.group(1)
    profile = _PROFILE.match(model)
    if profile is not None:
        return profile.group(1), profile.group(2)
    return None, model


def inference_geography(model: str) -> str | None:
    """The geography of a cross-Region inference profile (`eu.anthropic...`: eu), which
    may process a request in any of its regions; None for a model served in the
    provider's own region (or an application inference profile, which names none)."""
    return split_model(model)[0]


def model_family(model: str) -> str:
    """The model's vendor as Bedrock names it (`anthropic`, `meta`, `amazon`, ...)."""
    _, inner = split_model(model)
    family, dot, _ = inner.partition(".")
    return family if dot else ""


def family_features(model: str) -> frozenset[Feature]:
    return _ANTHROPIC if model_family(model) == "anthropic" else frozenset()


def _image(part: ImagePart, param: str) -> dict[str, Any]:
    data = split_data_url(part.url)
    if data is None:
        raise InvalidRequest(
            "Bedrock takes images inline only (a data: URL), not by URL", param=param
        )
    media_type = part.media_type or data[0]
    image_format = _IMAGE_FORMATS.get(media_type)
    if image_format is None:
        raise InvalidRequest(
            f"Bedrock takes PNG, JPEG, GIF and WebP images, not {media_type[:64]}", param=param
        )
    return {"image": {"format": image_format, "source": {"bytes": data[1]}}}


def _blocks(parts: list[Part], param: str) -> list[dict[str, Any]]:
    # Converse refuses a blank text block; an empty text says nothing, so it is left out.
    return [
        {"text": part.text} if isinstance(part, TextPart) else _image(part, f"{param}[{n}]")
        for n, part in enumerate(parts)
        if not isinstance(part, TextPart) or part.text
    ]


def _content(message: Message, m: int) -> list[dict[str, Any]]:
    result = message.tool_result
    if result is not None:
        block: dict[str, Any] = {
            "toolUseId": result.tool_call_id,
            "content": _blocks(result.content, f"messages[{m}].content"),
        }
        if result.is_error:
            block["status"] = "error"
        return [{"toolResult": block}]
    blocks = _blocks(message.content, f"messages[{m}].content")
    for n, call in enumerate(message.tool_calls):
        param = f"messages[{m}].tool_calls[{n}].function.arguments"
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": call.id,
                    "name": call.name,
                    "input": arguments_object(call.arguments, param),
                }
            }
        )
    return blocks


def _messages(request: ChatRequest) -> tuple[list[str], list[dict[str, Any]], bool]:
    """System texts, alternating turns (tool results travel as user turns, merged), and
    whether the conversation holds tool calls or results."""
    system = [text for text in request.system if text]
    turns: list[dict[str, Any]] = []
    tool_blocks = False
    for m, message in enumerate(request.messages):
        if message.role == "system":
            system.extend(p.text for p in message.content if isinstance(p, TextPart) and p.text)
            continue
        tool_blocks = tool_blocks or bool(message.tool_calls) or message.tool_result is not None
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _content(message, m)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return system, turns, tool_blocks


def _tool_config(request: ChatRequest, tool_blocks: bool) -> dict[str, Any] | None:
    if not request.tools:
        if tool_blocks:
            # Converse refuses tool calls in the conversation without a toolConfig.
            raise InvalidRequest(
                "Bedrock needs the tools offered again when the conversation holds tool calls",
                param="tools",
            )
        return None
    specs = []
    for tool in request.tools:
        spec: dict[str, Any] = {"name": tool.name, "inputSchema": {"json": tool.parameters}}
        if tool.description:
            spec["description"] = tool.description
        if request.strict_tools:
            spec["strict"] = True
        specs.append({"toolSpec": spec})
    config: dict[str, Any] = {"tools": specs}
    choice = request.tool_choice
    if choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice is not None and choice != "none":
        config["toolChoice"] = {"tool": {"name": choice}}
    # "none" never reaches here: Converse has no such choice, so the plan skips Bedrock.
    return config


def _inference(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = request.stop
    return config


def _additional(request: ChatRequest) -> dict[str, Any]:
    """Fields in the model vendor's own spelling; only Anthropic's are ever sent (the
    plan skips other families for what would need them)."""
    fields: dict[str, Any] = {}
    if request.top_k is not None:
        fields["top_k"] = request.top_k
    thinking = request.thinking
    if thinking is not None:
        fields["thinking"] = {"type": thinking.type}
        if thinking.budget is not None:
            fields["thinking"]["budget_tokens"] = thinking.budget
    return fields


def _output(request: ChatRequest) -> dict[str, Any]:
    output: dict[str, Any] = {}
    fmt = request.response_format
    if fmt is not None and fmt.schema is not None:
        schema: dict[str, Any] = {"schema": orjson.dumps(fmt.schema).decode(), "name": fmt.name}
        if fmt.description:
            schema["description"] = fmt.description
        output["textFormat"] = {"type": "json_schema", "structure": {"jsonSchema": schema}}
    if request.reasoning_effort is not None:
        output["effort"] = request.reasoning_effort
    return output


def encode_body(request: ChatRequest) -> dict[str, Any]:
    system, messages, tool_blocks = _messages(request)
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = [{"text": text} for text in system]
    inference = _inference(request)
    if inference:
        body["inferenceConfig"] = inference
    tools = _tool_config(request, tool_blocks)
    if tools is not None:
        body["toolConfig"] = tools
    additional = _additional(request)
    if additional:
        body["additionalModelRequestFields"] = additional
    output = _output(request)
    if output:
        body["outputConfig"] = output
    return body
