"""The pieces of an OpenAI Responses answer, shared by the plain and the streamed one:
the Response object, its output items, usage, log probabilities and ids.

Every id the client sees is the sidecar's: the response (`resp_<request id>`), its
items (`msg_...`, `fc_...`) and the tool calls' `call_id`s. A provider's own ids never
reach the client, so a client can never send one provider's id to another.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import orjson

from adapters._errors import ErrorType
from adapters._model import FinishReason, TokenLogprob, Usage

Status = Literal["in_progress", "completed", "incomplete", "failed"]
# The echo of a request that carries none (built in code rather than read by the codec).
DEFAULT_ECHO = orjson.dumps(
    {
        "instructions": None,
        "metadata": {},
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "temperature": None,
        "top_p": None,
        "max_output_tokens": None,
        "text": {"format": {"type": "text"}},
        "reasoning": {"effort": None, "summary": None},
        "truncation": "disabled",
    }
)[1:-1]
# Why a response stopped short, in the Response object's terms.
INCOMPLETE: dict[FinishReason, str] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}


def response_id(request_id: str) -> str:
    return f"resp_{request_id}"


def item_id(kind: Literal["msg", "fc"], request_id: str, output_index: int) -> str:
    return f"{kind}_{request_id}_{output_index}"


def call_id(request_id: str, index: int) -> str:
    """The sidecar's id for a tool call: unique per request and call, at most 40
    characters (OpenAI's limit on the ids it is sent back), whatever the provider's was."""
    return f"call_{request_id[:24]}_{index}"


def status_of(finish: FinishReason) -> Status:
    return "incomplete" if finish in INCOMPLETE else "completed"


def usage(value: Usage) -> dict[str, Any]:
    # No provider's count of cached or reasoning tokens reaches the shared model: 0.
    return {
        "input_tokens": value.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": value.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": value.input_tokens + value.output_tokens,
    }


def _bytes(token: str, raw: list[int] | None) -> list[int]:
    return list(token.encode()) if raw is None else raw


def logprobs(tokens: list[TokenLogprob]) -> list[dict[str, Any]]:
    """As an output_text part holds them (each with its bytes)."""
    return [
        {
            "token": t.token,
            "logprob": t.logprob,
            "bytes": _bytes(t.token, t.bytes),
            "top_logprobs": [
                {"token": a.token, "logprob": a.logprob, "bytes": _bytes(a.token, a.bytes)}
                for a in t.top
            ],
        }
        for t in tokens
    ]


def delta_logprobs(tokens: list[TokenLogprob]) -> list[dict[str, Any]]:
    """As a text delta event carries them (OpenAI's ResponseLogProb: no bytes)."""
    return [
        {
            "token": t.token,
            "logprob": t.logprob,
            "top_logprobs": [{"token": a.token, "logprob": a.logprob} for a in t.top],
        }
        for t in tokens
    ]


def text_part(text: str, tokens: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": tokens}


def message_item(identity: str, status: Status, parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": identity,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts,
    }


def call_item(
    identity: str, status: Status, call: str, name: str, arguments: str
) -> dict[str, Any]:
    return {
        "id": identity,
        "type": "function_call",
        "status": status,
        "call_id": call,
        "name": name,
        "arguments": arguments,
    }


def response_object(
    request_id: str,
    created_at: int,
    model: str,
    status: Status,
    output: list[dict[str, Any]],
    echo: bytes,
    answer_usage: Usage | None = None,
    *,
    finish: FinishReason | None = None,
    error: dict[str, str] | None = None,
) -> orjson.Fragment:
    """The Response object, as JSON to embed: its own members, then the request's echo."""
    reason = INCOMPLETE.get(finish) if finish is not None else None
    members = {
        "id": response_id(request_id),
        "object": "response",
        "created_at": created_at,
        "status": status,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": error,
        "incomplete_details": None if reason is None else {"reason": reason},
        "model": model,
        "output": output,
    }
    if answer_usage is not None:
        members["usage"] = usage(answer_usage)  # an object or absent, in OpenAI's schema
    own = orjson.dumps(members)
    return orjson.Fragment(own[:-1] + b"," + (echo or DEFAULT_ECHO) + b"}")


def failure(error_type: str, message: str) -> dict[str, str]:
    """A failed Response's `error`: OpenAI's codes name its own failures; the sidecar's
    are all a server error there (the `error` event before it carries the precise type)."""
    code = "rate_limit_exceeded" if error_type == ErrorType.RATE_LIMIT else "server_error"
    return {"code": code, "message": message}
