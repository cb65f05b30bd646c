"""Amazon Bedrock Converse / ConverseStream, from the API reference (and the
bedrock-runtime service model's shapes): JSON in, JSON or AWS event-stream frames out."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from tests.fakes import _eventstream as es
from tests.fakes._aws import aws_error
from tests.fakes._behaviours import (
    ContentFilter,
    ErrorBehaviour,
    InvalidRequest,
    Ok,
    Overloaded,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
)
from tests.fakes._dialect import JsonAsked, Reply, Route, finish_of, json_reply, pieces
from tests.fakes._json_mode import unknown_fields

_PATH = re.compile(r"^/model/([^/]+)/(converse|converse-stream)$")
STREAM_TYPE = "application/vnd.amazon.eventstream"
_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "guardrail_intervened",
}
# ConverseRequest's members (the model id is in the path).
_FIELDS = frozenset(
    {
        "messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
        "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
        "requestMetadata", "performanceConfig", "serviceTier", "outputConfig",
    }
)  # fmt: skip
_INFERENCE = frozenset({"maxTokens", "temperature", "topP", "stopSequences"})
_BLOCKS = frozenset(
    {"text", "image", "document", "toolUse", "toolResult", "reasoningContent", "cachePoint"}
)


def _invalid(message: str) -> Reply:
    return aws_error(400, "ValidationException", message)


def _block_problem(block: Any, role: str) -> str | None:
    if not isinstance(block, dict) or len(block) != 1 or next(iter(block)) not in _BLOCKS:
        return "a content block must be exactly one of its members"
    kind, value = next(iter(block.items()))
    if kind == "text" and (not isinstance(value, str) or not value.strip()):
        return "The text field in the ContentBlock object is blank."
    if kind == "toolUse" and (role != "assistant" or not isinstance(value.get("input"), dict)):
        return "toolUse blocks belong to assistant turns, with an object input"
    if kind == "toolResult" and role != "user":
        return "toolResult blocks belong to user turns"
    if kind == "image" and value.get("format") not in ("png", "jpeg", "gif", "webp"):
        return "image.format must be png, jpeg, gif or webp"
    return None


def _problem(body: Mapping[str, Any]) -> str | None:
    unknown = unknown_fields(body, _FIELDS)
    if unknown:
        return f"Malformed input request: extraneous key [{unknown[0]}] is not permitted"
    unknown = unknown_fields(body.get("inferenceConfig") or {}, _INFERENCE)
    if unknown:
        return f"Malformed input request: extraneous key [{unknown[0]}] is not permitted"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "A conversation must start with a user message."
    expected = "user"
    tool_blocks = False
    for message in messages:
        role = message.get("role")
        if role != expected:
            return "A conversation must alternate between user and assistant roles."
        expected = "assistant" if role == "user" else "user"
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return "The content field in the Message object is empty."
        for block in content:
            problem = _block_problem(block, role)
            if problem is not None:
                return problem
            tool_blocks = tool_blocks or "toolUse" in block or "toolResult" in block
    tools = body.get("toolConfig")
    if tool_blocks and not tools:
        return (
            "The toolConfig field must be defined when using toolUse and toolResult content blocks."
        )
    if tools is not None:
        choice = tools.get("toolChoice")
        if choice is not None and (
            len(choice) != 1 or next(iter(choice)) not in ("auto", "any", "tool")
        ):
            return "toolChoice must be one of auto, any or tool"
    for block in body.get("system") or []:
        if not isinstance(block, dict) or not str(block.get("text", "")).strip():
            return "The text field in the SystemContentBlock object is blank."
    return None


class BedrockDialect:
    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None:
        match = _PATH.match(path)
        if method != "POST" or match is None:
            return None
        return Route(stream=match.group(2) == "converse-stream", model=unquote(match.group(1)))

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return True  # the SigV4 door (tests/fakes/_aws.py) decides

    def header_problem(self, headers: Mapping[str, str]) -> Reply | None:
        return None

    def request_problem(self, body: Mapping[str, Any]) -> Reply | None:
        problem = _problem(body)
        return None if problem is None else _invalid(problem)

    def json_asked(self, body: Mapping[str, Any]) -> JsonAsked | None:
        fmt = (body.get("outputConfig") or {}).get("textFormat") or {}
        schema = ((fmt.get("structure") or {}).get("jsonSchema") or {}).get("schema")
        return JsonAsked(json.loads(schema)) if isinstance(schema, str) else None

    def echo(self, body: Any) -> str | None:
        for message in reversed(body.get("messages") or []):
            if message.get("role") != "user":
                continue
            texts = [b["text"] for b in message.get("content") or [] if "text" in b]
            if texts:
                return "".join(texts)
        return None

    def ok(self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]) -> Reply:
        stop = _STOP[finish_of(ok)]
        calls = [
            {
                "toolUseId": call.id or f"tooluse_{uuid.uuid4().hex[:22]}",
                "name": call.name,
                "input": dict(call.arguments),
            }
            for call in ok.tool_calls
        ]
        usage = {
            "inputTokens": ok.usage[0],
            "outputTokens": ok.usage[1],
            "totalTokens": sum(ok.usage),
        }
        headers = {"x-amzn-RequestId": str(uuid.uuid4())}
        if not stream:
            content: list[dict[str, Any]] = [{"text": text}] if text else []
            content += [{"toolUse": call} for call in calls]
            answer = {
                "output": {"message": {"role": "assistant", "content": content}},
                "stopReason": stop,
                "usage": usage,
                "metrics": {"latencyMs": 321},
            }
            return json_reply(200, answer, headers)
        events = [es.event("messageStart", {"role": "assistant"})]
        index = 0
        if text:
            events += [
                es.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f}})
                for f in pieces(text)
            ]
            events.append(es.event("contentBlockStop", {"contentBlockIndex": 0}))
            index = 1
        for call in calls:
            start = {"toolUse": {"toolUseId": call["toolUseId"], "name": call["name"]}}
            events.append(
                es.event("contentBlockStart", {"contentBlockIndex": index, "start": start})
            )
            events += [
                es.event(
                    "contentBlockDelta",
                    {"contentBlockIndex": index, "delta": {"toolUse": {"input": f}}},
                )
                for f in pieces(json.dumps(call["input"]))
            ]
            events.append(es.event("contentBlockStop", {"contentBlockIndex": index}))
            index += 1
        events.append(es.event("messageStop", {"stopReason": stop}))
        events.append(es.event("metadata", {"usage": usage, "metrics": {"latencyMs": 321}}))
        return Reply(200, events=events, headers={"content-type": STREAM_TYPE} | headers)

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply:
        if isinstance(behaviour, RateLimited):
            return aws_error(
                429, "ThrottlingException", "Too many requests, please wait before trying again."
            )
        if isinstance(behaviour, ServerError):
            if behaviour.status == 503:
                return aws_error(
                    503, "ServiceUnavailableException", "Bedrock is unable to process your request."
                )
            return aws_error(
                behaviour.status,
                "InternalServerException",
                "The server encountered an internal error while processing the request.",
            )
        if isinstance(behaviour, Unavailable):
            return aws_error(
                503, "ServiceUnavailableException", "Bedrock is unable to process your request."
            )
        if isinstance(behaviour, Overloaded):
            return aws_error(
                429, "ModelNotReadyException", "The model is not ready to serve inference requests."
            )
        if isinstance(behaviour, InvalidRequest):
            return _invalid("Malformed input request: #: required key [messages] not found")
        if isinstance(behaviour, ContentFilter):
            # A guardrail answers 200 with its own message and stopReason guardrail_intervened.
            refusal = Ok(text="Sorry, the model cannot answer this.", finish="content_filter")
            return self.ok(refusal, refusal.text or "", model, stream, {})
        assert isinstance(behaviour, Unauthorized)
        return aws_error(
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        )

    def error_under_200(self, stream: bool) -> Reply:
        if stream:
            events = [
                es.exception(
                    "validationException",
                    "Malformed input request, please reformat your input and try again.",
                )
            ]
            return Reply(200, events=events, headers={"content-type": STREAM_TYPE})
        return json_reply(
            200, {"message": "Malformed input request, please reformat your input and try again."}
        )

    def not_found(self, path: str) -> Reply:
        return aws_error(404, "UnknownOperationException", "Unknown operation")
