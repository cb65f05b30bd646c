"""OpenAI-compatible embeddings (OpenAI, Mistral, vLLM, Ollama, LocalAI: `/v1/embeddings`)
and Azure OpenAI's (`/openai/deployments/{deployment}/embeddings?api-version=`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from adapters import _validate as v
from adapters._base import HttpRequest, ProviderError, ProviderTarget
from adapters._embeddings import EmbeddingRequest, EmbeddingResponse
from adapters._http import body_text, load_object, malformed
from adapters._openai import error_from_object


def _in_order(data: list[Any]) -> list[Any]:
    """The `embedding` of each item, in input order: by `index` when the items carry
    one (each index 0..n-1 exactly once), else as listed."""
    items = [v.answer_object(item, f"data[{n}]") for n, item in enumerate(data)]
    indexes = [item.get("index") for item in items]
    if all(index is None for index in indexes):
        return [item.get("embedding") for item in items]
    ordered: list[Any] = [None] * len(items)
    for index, item in zip(indexes, items, strict=True):
        if type(index) is not int or not 0 <= index < len(items) or ordered[index] is not None:
            raise malformed("data[].index is not each input's position exactly once")
        ordered[index] = item.get("embedding")
    return ordered


class OpenAIEmbeddingsCodec:
    max_inputs: ClassVar[int] = 2048

    def url(self, target: ProviderTarget) -> str:
        return f"{target.base_url}/embeddings"

    def auth_headers(self, target: ProviderTarget) -> dict[str, str]:
        return {"authorization": f"Bearer {target.api_key}"} if target.api_key else {}

    def body_model(self, target: ProviderTarget) -> str | None:
        return target.model

    def encode_embeddings(self, request: EmbeddingRequest, target: ProviderTarget) -> HttpRequest:
        body: dict[str, Any] = {}
        model = self.body_model(target)
        if model is not None:
            body["model"] = model
        # Always floats: every compatible server writes them, and each value is checked
        # before the sidecar writes the client's base64 itself.
        body["input"] = request.inputs
        body["encoding_format"] = "float"
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if request.user is not None:
            body["user"] = request.user
        headers = {"content-type": "application/json", **self.auth_headers(target)}
        return HttpRequest("POST", self.url(target), headers, orjson.dumps(body))

    def decode_embeddings(self, body: bytes, request: EmbeddingRequest) -> EmbeddingResponse:
        obj = load_object(body, "embeddings answer")
        # Some compatible servers omit "object"; a different object is another endpoint.
        if obj.get("object", "list") != "list" or not isinstance(obj.get("data"), list):
            raise malformed("answer is not a list of embeddings")
        vectors = v.vectors(_in_order(obj["data"]), len(request.inputs), request.dimensions, "data")
        usage = v.answer_object(obj.get("usage"), "usage")
        prompt = usage.get("prompt_tokens")
        v.token_count(usage.get("total_tokens"), "usage.total_tokens")
        return EmbeddingResponse(
            model=v.answer_id(obj.get("model"), "model"),
            vectors=vectors,
            input_tokens=None if prompt is None else v.token_count(prompt, "usage.prompt_tokens"),
        )

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"error": {"message": body_text(body)}}
        return error_from_object(obj, status, headers)


class AzureOpenAIEmbeddingsCodec(OpenAIEmbeddingsCodec):
    """The deployment in the path, `api-key`, and no model in the body."""

    def url(self, target: ProviderTarget) -> str:
        version = target.options.get("api_version")
        if not version:
            raise ValueError("Azure OpenAI needs options.api_version")
        return (
            f"{target.base_url}/openai/deployments/{target.model}/embeddings?api-version={version}"
        )

    def auth_headers(self, target: ProviderTarget) -> dict[str, str]:
        return {"api-key": target.api_key} if target.api_key else {}

    def body_model(self, target: ProviderTarget) -> str | None:
        return None
