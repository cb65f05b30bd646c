"""OpenAI's Embeddings API as the client speaks it: `POST /v1/embeddings` in, the
`list` of `embedding` objects out, vectors as floats or as base64 float32."""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

import orjson

from adapters import _validate as v
from adapters._base import InvalidRequest
from adapters._embeddings import EmbeddingRequest, EmbeddingResponse, EncodingFormat
from adapters._openai_client import error_body

# CreateEmbeddingRequest's properties (openai-openapi 2.3.0), all served.
FIELDS = ("input", "model", "encoding_format", "dimensions", "user")
_ENCODINGS: tuple[EncodingFormat, ...] = ("float", "base64")
# OpenAI's own bound, which every adapter keeps to.
MAX_INPUTS = 2048
_UNSCANNABLE = (
    "'input' holds token arrays, which the sidecar refuses: tokens cannot be checked for "
    "PII or redacted (each provider it may fall back to has its own tokenizer, and no "
    "text to scan). Send the text instead"
)


def _inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list):
        if not value:
            raise InvalidRequest("'input' must not be an empty array", param="input")
        if len(value) > MAX_INPUTS:
            raise InvalidRequest(f"'input' holds more than {MAX_INPUTS} items", param="input")
        items = value
    else:
        raise InvalidRequest("'input' must be a string or an array of strings", param="input")
    for n, item in enumerate(items):
        if isinstance(item, str):
            if not item:
                where = "input" if isinstance(value, str) else f"input[{n}]"
                raise InvalidRequest(f"'{where}' must not be an empty string", param=where)
            continue
        if isinstance(item, int | list) and not isinstance(item, bool):
            raise InvalidRequest(_UNSCANNABLE, param="input")
        raise InvalidRequest(f"'input[{n}]' must be a string", param=f"input[{n}]")
    return items


def decode_request(body: Any) -> EmbeddingRequest:
    body = v.obj(body, "body")
    _known(body)
    if "input" not in body or body["input"] is None:
        raise InvalidRequest("'input' is required", param="input")
    request = EmbeddingRequest(
        model=v.string(body.get("model"), "model"), inputs=_inputs(body["input"])
    )
    if body.get("dimensions") is not None:
        request.dimensions = v.integer(body["dimensions"], "dimensions", 1, v.MAX_DIMENSIONS)
    fmt = v.choice(body.get("encoding_format"), "encoding_format", _ENCODINGS)
    if fmt is not None:
        request.encoding_format = fmt
    request.user = v.optional_string(body.get("user"), "user")
    return request


def _known(body: dict[str, Any]) -> None:
    for key, item in body.items():
        if key not in FIELDS and item is not None:
            raise v.unknown_field(key, None)


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 form: the vector's float32 values, little-endian, in base64."""
    packed = array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


class OpenAIEmbeddingsClientCodec:
    def decode_request(self, body: Any) -> EmbeddingRequest:
        return decode_request(body)

    def encode_response(
        self, response: EmbeddingResponse, request: EmbeddingRequest, model: str, usage: int
    ) -> bytes:
        encode = _base64 if request.encoding_format == "base64" else None
        data = [
            {
                "object": "embedding",
                "index": n,
                "embedding": vector if encode is None else encode(vector),
            }
            for n, vector in enumerate(response.vectors)
        ]
        return orjson.dumps(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": usage, "total_tokens": usage},
            }
        )

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes:
        return orjson.dumps(error_body(error_type, message, param))
