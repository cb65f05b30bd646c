"""Log probabilities: read from OpenAI's and Gemini's answers, written in OpenAI's shape."""

from __future__ import annotations

from typing import Any

import orjson

from adapters import (
    ChatRequest,
    ChatResponse,
    LogprobsDelta,
    Message,
    OpenAIClientCodec,
    StreamEnd,
    StreamStart,
    TextDelta,
    TextPart,
    TokenLogprob,
    TopLogprob,
    Usage,
    provider_codec,
)

REQUEST = ChatRequest("m", [Message("user", [TextPart("x")])])
TOKENS = [
    TokenLogprob(
        "Hi", -0.5, [72, 105], [TopLogprob("Hi", -0.5, [72, 105]), TopLogprob("Hey", -1.0)]
    ),
]
OPENAI_LOGPROBS = {
    "content": [
        {
            "token": "Hi",
            "logprob": -0.5,
            "bytes": [72, 105],
            "top_logprobs": [
                {"token": "Hi", "logprob": -0.5, "bytes": [72, 105]},
                {"token": "Hey", "logprob": -1.0, "bytes": None},
            ],
        }
    ],
    "refusal": None,
}


def completion(logprobs: Any) -> bytes:
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "Hi"},
        "logprobs": logprobs,
        "finish_reason": "stop",
    }
    return orjson.dumps({"id": "c", "object": "chat.completion", "model": "m", "choices": [choice]})


def test_openai_logprobs_are_read_from_the_choice() -> None:
    response = provider_codec("openai").decode_response(completion(OPENAI_LOGPROBS))
    assert response.logprobs == TOKENS


def test_an_answer_without_logprobs_has_none() -> None:
    assert provider_codec("openai").decode_response(completion(None)).logprobs is None


def test_openai_stream_logprobs_follow_their_text() -> None:
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {"content": "Hi"},
                "logprobs": OPENAI_LOGPROBS,
                "finish_reason": None,
            }
        ],
    }
    decoder = provider_codec("openai").stream_decoder()
    events = decoder.feed(b"data: " + orjson.dumps(chunk) + b"\n\n")
    assert events[1:] == [TextDelta("Hi"), LogprobsDelta(TOKENS)]


def test_gemini_logprobs_result_is_read_as_chosen_tokens_with_their_alternatives() -> None:
    candidate = {
        "content": {"parts": [{"text": "Hi"}], "role": "model"},
        "finishReason": "STOP",
        "logprobsResult": {
            "topCandidates": [
                {
                    "candidates": [
                        {"token": "Hi", "logProbability": -0.5},
                        {"token": "Hey", "logProbability": -1.0},
                    ]
                }
            ],
            "chosenCandidates": [{"token": "Hi", "logProbability": -0.5}],
        },
    }
    response = provider_codec("gemini").decode_response(orjson.dumps({"candidates": [candidate]}))
    assert response.logprobs == [
        TokenLogprob(
            "Hi",
            -0.5,
            [72, 105],
            [TopLogprob("Hi", -0.5, [72, 105]), TopLogprob("Hey", -1.0, [72, 101, 121])],
        )
    ]


def test_the_openai_client_answer_carries_the_logprobs() -> None:
    answer = ChatResponse("c", "m", [TextPart("Hi")], [], "stop", Usage(1, 1), TOKENS)
    body = orjson.loads(OpenAIClientCodec().encode_response(answer, REQUEST, "r", "m"))
    assert body["choices"][0]["logprobs"] == OPENAI_LOGPROBS


def test_the_openai_client_stream_carries_logprobs_in_their_own_chunk() -> None:
    request = ChatRequest("m", [Message("user", [TextPart("x")])], stream=True)
    encoder = OpenAIClientCodec().stream_encoder(request, "r", "m")
    out = b"".join(
        encoder.encode(e)
        for e in [StreamStart("c", "m"), TextDelta("Hi"), LogprobsDelta(TOKENS), StreamEnd("stop")]
    )
    chunks = [orjson.loads(line[6:]) for line in out.split(b"\n\n") if line.startswith(b"data: {")]
    with_logprobs = [c for c in chunks if c["choices"][0]["logprobs"] is not None]
    assert [c["choices"][0]["logprobs"] for c in with_logprobs] == [OPENAI_LOGPROBS]
    assert with_logprobs[0]["choices"][0]["delta"] == {}


def test_an_obfuscated_stream_pads_each_chunk_to_a_multiple_of_64_bytes() -> None:
    request = ChatRequest("m", [Message("user", [TextPart("x")])], stream=True, obfuscate=True)
    encoder = OpenAIClientCodec().stream_encoder(request, "r", "m")
    sizes = set()
    for text in ("a", "abcdefghijklmnopqrstuvwxyz" * 3):
        out = encoder.encode(TextDelta(text))
        data = [line[6:] for line in out.split(b"\n\n") if line.startswith(b"data: {")]
        sizes.update(len(d) % 64 for d in data)
        assert all(orjson.loads(d)["obfuscation"] is not None for d in data)
    assert sizes == {0}
