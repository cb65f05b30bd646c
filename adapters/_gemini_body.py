"""The request body of a Gemini `generateContent` call."""

from __future__ import annotations

from typing import Any

from adapters._base import InvalidRequest
from adapters._content import arguments_object, joined_text, split_data_url
from adapters._model import ChatRequest, Message, Part, TextPart


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


# Google's own mapping of OpenAI's reasoning_effort in its OpenAI-compatible API.
_THINKING_BUDGETS = {"none": 0, "low": 1024, "medium": 8192, "high": 24576}
# Anthropic's thinking types; "adaptive" is Gemini's dynamic thinking (-1).
_THINKING_TYPES = {"disabled": 0, "adaptive": -1}


def _thinking_budget(request: ChatRequest) -> int | None:
    if request.thinking is not None:
        budget = request.thinking.budget
        return budget if budget is not None else _THINKING_TYPES.get(request.thinking.type)
    if request.reasoning_effort is not None:
        return _THINKING_BUDGETS.get(request.reasoning_effort)
    return None


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.top_k is not None:
        config["topK"] = request.top_k
    if request.stop:
        config["stopSequences"] = request.stop
    if request.seed is not None:
        config["seed"] = request.seed
    if request.presence_penalty is not None:
        config["presencePenalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        config["frequencyPenalty"] = request.frequency_penalty
    if request.logprobs:
        config["responseLogprobs"] = True
        if request.top_logprobs is not None:
            config["logprobs"] = request.top_logprobs
    fmt = request.response_format
    if fmt is not None:
        config["responseMimeType"] = "application/json"
        if fmt.schema is not None:
            # responseJsonSchema takes JSON Schema as the client wrote it; responseSchema
            # takes an OpenAPI subset that would need a lossy translation.
            config["responseJsonSchema"] = fmt.schema
    budget = _thinking_budget(request)
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget}
    return config


def _tool_config(choice: str) -> dict[str, Any]:
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}.get(choice)
    if mode is not None:
        return {"functionCallingConfig": {"mode": mode}}
    return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice]}}


def encode_body(request: ChatRequest) -> dict[str, Any]:
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
    return body
