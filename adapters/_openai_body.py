"""The request body of an OpenAI-compatible Chat Completions call (OpenAI and Azure)."""

from __future__ import annotations

from typing import Any

import orjson

from adapters._content import joined_text
from adapters._model import ChatRequest, ImagePart, Message, ResponseFormat, TextPart


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool" and message.tool_result is not None:
        return {
            "role": "tool",
            "tool_call_id": message.tool_result.tool_call_id,
            "content": joined_text(message.tool_result.content),
        }
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": joined_text(message.content) or None}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in message.tool_calls
            ]
        return out
    content: str | list[dict[str, Any]]
    if all(isinstance(part, TextPart) for part in message.content):
        content = joined_text(message.content)
    else:
        content = [
            {"type": "text", "text": part.text}
            if isinstance(part, TextPart)
            else {"type": "image_url", "image_url": _image_url(part)}
            for part in message.content
            if isinstance(part, TextPart | ImagePart)
        ]
    out = {"role": message.role, "content": content}
    if message.name is not None:
        out["name"] = message.name
    return out


def _image_url(part: ImagePart) -> dict[str, str]:
    if part.detail is None:
        return {"url": part.url}
    return {"url": part.url, "detail": part.detail}


def encode_body(
    request: ChatRequest, model: str | None, max_tokens_field: str, openai_only: bool = True
) -> bytes:
    body: dict[str, Any] = {}
    if model is not None:
        body["model"] = model
    body["messages"] = [{"role": "system", "content": text} for text in request.system] + [
        _message(m) for m in request.messages
    ]
    if request.max_tokens is not None:
        body[max_tokens_field] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.stop:
        body["stop"] = request.stop
    if request.tools:
        strict = {"strict": True} if request.strict_tools else {}
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "parameters": t.parameters}
                | ({"description": t.description} if t.description is not None else {})
                | strict,
            }
            for t in request.tools
        ]
    if request.tool_choice is not None:
        body["tool_choice"] = (
            request.tool_choice
            if request.tool_choice in ("auto", "none", "required")
            else {"type": "function", "function": {"name": request.tool_choice}}
        )
    if request.user is not None:
        body["user"] = request.user
    if request.stream:
        body["stream"] = True
        # Always: the audit record needs token usage even when the client did not ask.
        body["stream_options"] = {"include_usage": True}
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    _sampling(request, body)
    if openai_only:
        _openai_only(request, body)
    return orjson.dumps(body)


def _response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.schema is None:
        return {"type": "json_object"}
    spec: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema}
    if fmt.description is not None:
        spec["description"] = fmt.description
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


def _sampling(request: ChatRequest, body: dict[str, Any]) -> None:
    """Fields OpenAI and Azure take alike; the route plan sends them nowhere else."""
    if request.seed is not None:
        body["seed"] = request.seed
    if request.presence_penalty is not None:
        body["presence_penalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        body["frequency_penalty"] = request.frequency_penalty
    if request.logit_bias:
        body["logit_bias"] = request.logit_bias
    if request.logprobs:
        body["logprobs"] = True
        if request.top_logprobs is not None:
            body["top_logprobs"] = request.top_logprobs
    # OpenAI refuses parallel_tool_calls on a request without tools.
    if request.parallel_tool_calls is not None and request.tools:
        body["parallel_tool_calls"] = request.parallel_tool_calls


_TIERS = {"standard": "default"}


def _openai_only(request: ChatRequest, body: dict[str, Any]) -> None:
    """Fields of OpenAI's own API that Azure's API versions refuse as unknown."""
    if request.service_tier is not None:
        body["service_tier"] = _TIERS.get(request.service_tier, request.service_tier)
    if request.reasoning_effort is not None:
        body["reasoning_effort"] = request.reasoning_effort
    if request.verbosity is not None:
        body["verbosity"] = request.verbosity
    if request.prediction is not None:
        body["prediction"] = {"type": "content", "content": request.prediction}
    if request.safety_identifier is not None:
        body["safety_identifier"] = request.safety_identifier
    cache = request.prompt_cache
    if cache is not None:
        if cache.key is not None:
            body["prompt_cache_key"] = cache.key
        if cache.retention is not None:
            body["prompt_cache_retention"] = cache.retention
        options = {"ttl": cache.ttl, "mode": cache.mode}
        if any(options.values()):
            body["prompt_cache_options"] = {k: o for k, o in options.items() if o is not None}
