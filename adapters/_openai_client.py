"""The OpenAI Chat Completions protocol as the sidecar speaks it to its clients: the
answer, plain and streamed (the request is read in `_openai_request`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from adapters._errors import OPENAI_TYPES, ErrorType
from adapters._model import (
    ChatRequest,
    ChatResponse,
    FinishReason,
    LogprobsDelta,
    StreamEnd,
    StreamEvent,
    TextDelta,
    TokenLogprob,
    ToolCallDelta,
    Usage,
)
from adapters._openai_request import decode_request

_PAD_TO = 64  # obfuscated chunks are padded to a multiple of this many bytes


def _finish(reason: FinishReason) -> str:
    return "stop" if reason == "error" else reason


def _token(token: TokenLogprob) -> dict[str, Any]:
    return {
        "token": token.token,
        "logprob": token.logprob,
        "bytes": token.bytes,
        "top_logprobs": [
            {"token": t.token, "logprob": t.logprob, "bytes": t.bytes} for t in token.top
        ],
    }


def _logprobs(tokens: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if tokens is None:
        return None
    return {"content": [_token(t) for t in tokens], "refusal": None}


def _usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


class OpenAIClientCodec:
    def decode_request(self, body: Any) -> ChatRequest:
        return decode_request(body)

    def encode_response(
        self, response: ChatResponse, request: ChatRequest, request_id: str, model: str
    ) -> bytes:
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
                    "logprobs": _logprobs(response.logprobs),
                    "finish_reason": _finish(response.finish_reason),
                }
            ],
            "usage": _usage(response.usage),
        }
        return orjson.dumps(body)

    def stream_encoder(
        self, request: ChatRequest, request_id: str, model: str
    ) -> OpenAIStreamEncoder:
        return OpenAIStreamEncoder(
            f"chatcmpl-{request_id}", model, request.include_usage, request.obfuscate
        )

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
    """`chat.completion.chunk` SSE: role first, then deltas, finish, usage, [DONE].

    With `obfuscate` (stream_options.include_obfuscation: true), every delta chunk
    carries an `obfuscation` string that pads the chunk to a multiple of
    `_PAD_TO` bytes, so its size no longer tells how long the delta is.
    """

    def __init__(self, chunk_id: str, model: str, include_usage: bool, obfuscate: bool) -> None:
        self._id = chunk_id
        self._model = model
        self._include_usage = include_usage
        self._obfuscate = obfuscate
        self._created = int(time.time())
        self._started = False

    def _chunk(
        self, choices: list[dict[str, Any]], usage: Usage | None = None, pad: bool = False
    ) -> bytes:
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
        if pad and self._obfuscate:
            body["obfuscation"] = ""
            size = len(orjson.dumps(body))
            body["obfuscation"] = secrets.token_urlsafe(_PAD_TO)[: -size % _PAD_TO]
        return b"data: " + orjson.dumps(body) + b"\n\n"

    def _delta(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        logprobs: list[TokenLogprob] | None = None,
    ) -> bytes:
        choice = {
            "index": 0,
            "delta": delta,
            "logprobs": _logprobs(logprobs),
            "finish_reason": finish,
        }
        return self._chunk([choice], pad=True)

    def encode(self, event: StreamEvent) -> bytes:
        out = b""
        if not self._started:
            self._started = True
            out = self._delta({"role": "assistant", "content": "", "refusal": None})
        if isinstance(event, TextDelta):
            out += self._delta({"content": event.text})
        elif isinstance(event, LogprobsDelta):
            out += self._delta({}, logprobs=event.tokens)
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
