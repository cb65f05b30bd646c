"""The one ~1 KB request every scenario sends (synthetic PII), as a Chat Completions or a
Responses request, the embeddings request over the same text, and the canned answers."""

from __future__ import annotations

from functools import cache
from typing import Literal

import orjson

from adapters import (
    ChatRequest,
    ChatResponse,
    ResponsesClientCodec,
    StreamEnd,
    TextDelta,
    TextPart,
    Usage,
)

# Synthetic PII only: example.com mail, a 555-01xx number reserved for fiction, and the
# Visa test card number (it passes Luhn, so the card detector must fire on it).
_PROMPT = (
    "Please draft a short, friendly reply to the customer below and keep every detail "
    "accurate. Customer note: Hello, this is Jane Doe writing about order 88231. I paid "
    "with my card 4111 1111 1111 1111 last Tuesday but the confirmation never arrived. "
    "You can reach me at jane.doe@example.com or call +1 202 555 0143 after five. The "
    "parcel was meant to arrive before the weekend and I would like to know whether it "
    "left the warehouse, whether the payment went through only once, and whether I can "
    "change the delivery window to the mornings. I also asked last month about the "
    "loyalty points from the spring promotion and nobody answered; could you check that "
    "the points were added to my account? Thank you for looking into this, I appreciate "
    "a quick answer because I am travelling next week and will not be able to receive "
    "the parcel then."
)

MODEL = "default"
UPSTREAM_MODEL = "gpt-4o-mini"
EMBEDDING_MODEL = "embed"  # the sidecar's and LiteLLM's alias; Portkey sends it as is
UPSTREAM_EMBEDDING_MODEL = "text-embedding-3-small"
EMBEDDING_DIMENSIONS = 1536  # text-embedding-3-small's
# What a run measures: a chat completion, streamed or not, and an embeddings request.
MODES = ("json", "stream", "embeddings")
TENANT = "sandbox"  # the sandbox policy redacts structured PII for third-party providers
API_KEY = "bench-not-a-key"
# Replaced by a different word in every request wrk sends (see _wrk.lua_script).
VARIED_WORD = "Doe"
_SYSTEM = "You are a careful customer support assistant."
Api = Literal["chat", "responses"]
# The modes each API has: embeddings are their own endpoint, not a Responses request.
API_MODES: dict[Api, tuple[str, ...]] = {"chat": MODES, "responses": ("json", "stream")}


def request_body(*, stream: bool, api: Api = "chat") -> bytes:
    if api == "responses":
        return _responses_body(stream)
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": _PROMPT},
        ],
        "temperature": 0.2,
        "max_tokens": 256,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def _responses_body(stream: bool) -> bytes:
    """The same request in the Responses API (OpenAI's SDKs send no `store`)."""
    body: dict[str, object] = {
        "model": MODEL,
        "instructions": _SYSTEM,
        "input": [{"role": "user", "content": _PROMPT}],
        "temperature": 0.2,
        "max_output_tokens": 256,
    }
    if stream:
        body["stream"] = True
    return orjson.dumps(body)


def embedding_body() -> bytes:
    """The prompt as one document to embed; floats, so every gateway relays the same
    upstream answer (the sidecar would write base64 itself when asked)."""
    return orjson.dumps({"model": EMBEDDING_MODEL, "input": [_PROMPT], "encoding_format": "float"})


def body_for(mode: str, api: Api = "chat") -> bytes:
    """What wrk sends for `mode` (one of API_MODES[api])."""
    if mode == "embeddings":
        return embedding_body()
    return request_body(stream=mode == "stream", api=api)


def request_headers() -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {API_KEY}",
        "X-Tenant-ID": TENANT,
        "X-Privacy-Tags": "pii",
    }


def prompt_text() -> str:
    return _PROMPT


_ANSWER = "Thank you for your message; we have checked your order and it is on its way."
_USAGE = {"prompt_tokens": 231, "completion_tokens": 18, "total_tokens": 249}


def completion_json() -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": UPSTREAM_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": _ANSWER},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _USAGE,
        }
    )


def _chunk(choices: list[object], usage: object = None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": UPSTREAM_MODEL,
        "choices": choices,
        "usage": usage,
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def completion_sse() -> bytes:
    """An OpenAI chunk stream: role, a few deltas, finish, usage chunk, then [DONE]."""
    words = _ANSWER.split(" ")
    pieces = [" ".join(words[i : i + 3]) + " " for i in range(0, len(words), 3)]
    pieces[-1] = pieces[-1].rstrip()
    events = [_chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
    events += [_chunk([{"index": 0, "delta": {"content": p}}]) for p in pieces]
    events.append(_chunk([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    events.append(_chunk([], _USAGE))
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


def embedding_json() -> bytes:
    """An OpenAI embeddings answer: one 1,536-dimension vector, as text-embedding-3-small
    writes it (floats of about nine significant digits)."""
    vector = [round(((n * 7919) % 2001 - 1000) / 40_000, 9) for n in range(EMBEDDING_DIMENSIONS)]
    return orjson.dumps(
        {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": vector}],
            "model": UPSTREAM_EMBEDDING_MODEL,
            "usage": {"prompt_tokens": 231, "total_tokens": 231},
        }
    )


# The same answer in the Responses format, for a gateway that passes /v1/responses
# through to its upstream's own /responses; written by the sidecar's codec, so it is
# OpenAI's published shape (tests/conformance checks that codec). The stream is one text
# delta and no request parameters repeated: nginx takes at most 4 KB in one `return`.
_CANNED = ResponsesClientCodec()
_REQUEST = ChatRequest(UPSTREAM_MODEL, [])
_RESPONSE_USAGE = Usage(_USAGE["prompt_tokens"], _USAGE["completion_tokens"])


@cache  # one answer per run: nginx serves these exact bytes
def response_json() -> bytes:
    answer = ChatResponse("bench", UPSTREAM_MODEL, [TextPart(_ANSWER)], [], "stop", _RESPONSE_USAGE)
    return _CANNED.encode_response(answer, _REQUEST, "bench", UPSTREAM_MODEL)


@cache
def response_sse() -> bytes:
    encoder = _CANNED.stream_encoder(_REQUEST, "bench", UPSTREAM_MODEL)
    return encoder.encode(TextDelta(_ANSWER)) + encoder.encode(StreamEnd("stop", _RESPONSE_USAGE))
