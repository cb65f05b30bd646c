"""The inbound embeddings codec: OpenAI's `POST /v1/embeddings` body in, its answer out."""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson
import pytest

from adapters import (
    EmbeddingRequest,
    EmbeddingResponse,
    InvalidRequest,
    OpenAIEmbeddingsClientCodec,
)

codec = OpenAIEmbeddingsClientCodec()


def decode(body: Any) -> EmbeddingRequest:
    return codec.decode_request(body)


def refusal(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        decode(body)
    return caught.value


def test_a_string_input_is_one_input() -> None:
    assert decode({"model": "embed", "input": "hello"}) == EmbeddingRequest("embed", ["hello"])


def test_a_list_input_keeps_its_order_and_options() -> None:
    request = decode(
        {
            "model": "embed",
            "input": ["a", "b"],
            "dimensions": 256,
            "encoding_format": "base64",
            "user": "u-1",
        }
    )
    assert request == EmbeddingRequest("embed", ["a", "b"], 256, "base64", "u-1")


def test_null_fields_ask_for_nothing() -> None:
    request = decode(
        {"model": "embed", "input": "a", "dimensions": None, "encoding_format": None, "user": None}
    )
    assert request == EmbeddingRequest("embed", ["a"])


@pytest.mark.parametrize("tokens", [[1212, 318, 257], [[1212, 318], [257]], [[1]]])
def test_token_arrays_are_refused_naming_input_and_why(tokens: Any) -> None:
    error = refusal({"model": "embed", "input": tokens})
    assert error.param == "input"
    assert "token arrays" in error.message
    assert "redacted" in error.message


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ("", "input"),
        ([], "input"),
        (["a", ""], "input[1]"),
        (["a", 1.5], "input[1]"),
        (["a", None], "input[1]"),
        ({"text": "a"}, "input"),
        (None, "input"),
        (["x"] * 2049, "input"),
    ],
)
def test_a_bad_input_is_refused_naming_where(value: Any, param: str) -> None:
    assert refusal({"model": "embed", "input": value}).param == param


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dimensions", 0),
        ("dimensions", -3),
        ("dimensions", "256"),
        ("dimensions", True),
        ("dimensions", 10**6),
        ("encoding_format", "binary"),
        ("user", 7),
        ("model", None),
        ("model", 7),
    ],
)
def test_a_field_of_the_wrong_type_or_range_is_refused_naming_it(field: str, value: Any) -> None:
    body = {"model": "embed", "input": "a", field: value}
    assert refusal(body).param == field


def test_an_unknown_field_is_refused_not_dropped() -> None:
    error = refusal({"model": "embed", "input": "a", "input_type": "query"})
    assert error.param == "input_type"


def test_an_unknown_field_that_is_not_a_name_is_not_echoed() -> None:
    error = refusal({"model": "embed", "input": "a", "4111 1111 1111 1111": 1})
    assert "4111" not in error.message


def test_the_answer_is_openais_list_with_usage() -> None:
    request = EmbeddingRequest("embed", ["a", "b"])
    answer = EmbeddingResponse("provider-model", [[0.5, -0.25], [1.0, 0.0]], 3)
    document = orjson.loads(codec.encode_response(answer, request, "text-embedding-3-small", 3))
    assert document == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }


def test_base64_is_little_endian_float32_as_openai_writes_it() -> None:
    request = EmbeddingRequest("embed", ["a"], encoding_format="base64")
    answer = EmbeddingResponse("m", [[0.5, -0.25, 3.0]], 1)
    document = orjson.loads(codec.encode_response(answer, request, "m", 1))
    raw = base64.b64decode(document["data"][0]["embedding"])
    assert struct.unpack("<3f", raw) == (0.5, -0.25, 3.0)


def test_errors_are_openais_error_shape() -> None:
    body = orjson.loads(codec.encode_error(400, "invalid_request", "bad", "input"))
    assert body == {
        "error": {
            "message": "bad",
            "type": "invalid_request_error",
            "param": "input",
            "code": "invalid_request",
        }
    }
