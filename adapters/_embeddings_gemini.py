"""Gemini API embeddings: `models/{m}:embedContent` for one input, `:batchEmbedContents`
for several (at most 100 a call, Google's limit). Gemini reports no token usage for
embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from adapters import _validate as v
from adapters._base import HttpRequest, ProviderError, ProviderTarget
from adapters._embeddings import EmbeddingRequest, EmbeddingResponse
from adapters._gemini import error_from_object
from adapters._http import body_text, load_object, malformed


def _content(text: str, request: EmbeddingRequest) -> dict[str, Any]:
    entry: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
    if request.dimensions is not None:
        entry["outputDimensionality"] = request.dimensions
    return entry


def _values(embedding: Any, where: str) -> Any:
    return v.answer_object(embedding, where).get("values")


class GeminiEmbeddingsCodec:
    max_inputs: ClassVar[int] = 100

    def encode_embeddings(self, request: EmbeddingRequest, target: ProviderTarget) -> HttpRequest:
        # `user` has no Gemini field (as for chat): it is not sent.
        if len(request.inputs) == 1:
            method = "embedContent"
            body = _content(request.inputs[0], request)
        else:
            method = "batchEmbedContents"
            # Each request names the model again, as the path does (Google requires both).
            name = f"models/{target.model}"
            body = {"requests": [{"model": name, **_content(t, request)} for t in request.inputs]}
        # The key goes in a header, never the URL: URLs end up in logs.
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["x-goog-api-key"] = target.api_key
        url = f"{target.base_url}/v1beta/models/{target.model}:{method}"
        return HttpRequest("POST", url, headers, orjson.dumps(body))

    def decode_embeddings(self, body: bytes, request: EmbeddingRequest) -> EmbeddingResponse:
        obj = load_object(body, "embeddings answer")
        if len(request.inputs) == 1:
            if "embedding" not in obj:
                raise malformed("answer has no embedding")
            raw = [_values(obj["embedding"], "embedding")]
        else:
            embeddings = obj.get("embeddings")
            if not isinstance(embeddings, list):
                raise malformed("answer has no embeddings list")
            raw = [_values(e, f"embeddings[{n}]") for n, e in enumerate(embeddings)]
        vectors = v.vectors(raw, len(request.inputs), request.dimensions, "embeddings")
        return EmbeddingResponse(model="", vectors=vectors, input_tokens=None)

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"error": {"message": body_text(body)}}
        return error_from_object(obj, status, headers)
