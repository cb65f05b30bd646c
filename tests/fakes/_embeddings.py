"""The providers' embeddings endpoints, from their public API references.

OpenAI (and every compatible server) `POST /v1/embeddings`; Azure OpenAI
`POST /openai/deployments/{deployment}/embeddings?api-version=`; Gemini
`POST /v1beta/models/{model}:embedContent` and `:batchEmbedContents`. Each answers
with `fake_vector(model, text, dimensions)` per input, so a test knows which model
(which vector space) a vector came from. Errors use the provider's chat dialect: the
error shapes are the same on every endpoint of an API.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tests.fakes._dialect import Reply, json_reply

DEFAULT_DIMENSIONS = 8

Tamper = Literal[
    "nan", "short", "missing", "extra", "string", "boolean", "huge", "index", "no_data", "usage"
]


@dataclass(frozen=True)
class BadVectors:
    """A 200 embeddings answer that is wrong in one way: a NaN value (`nan`), one vector
    shorter than the rest (`short`), a vector missing or one too many, a vector as a
    string, a boolean among the numbers, a number past float32, a duplicated index
    (OpenAI shapes), no list at all, or a negative token count."""

    tamper: Tamper


def fake_vector(model: str, text: str, dimensions: int = DEFAULT_DIMENSIONS) -> list[float]:
    """The fake model's vector for `text`: a function of the model and the text, in
    [-1, 1] with four decimals, so float32 keeps it to 1e-4."""
    seed = hashlib.sha256(f"{model}\0{text}".encode()).digest()
    values = []
    for n in range(dimensions):
        byte = seed[n % len(seed)] ^ (n // len(seed))
        values.append(round((byte - 127.5) / 127.5, 4))
    return values


def fake_tokens(texts: list[str]) -> int:
    """The fake's token count for its inputs: one a word."""
    return sum(max(1, len(text.split())) for text in texts)


def _tampered(vectors: list[list[float]], tamper: Tamper) -> list[Any]:
    out: list[Any] = [list(v) for v in vectors]
    if tamper == "nan":
        out[0][0] = float("nan")
    elif tamper == "short":
        out[-1] = out[-1][:-1]
    elif tamper == "missing":
        out = out[:-1]
    elif tamper == "extra":
        out.append(out[0])
    elif tamper == "string":
        out[0] = "AAAA"
    elif tamper == "boolean":
        out[0][0] = True
    elif tamper == "huge":
        out[0][0] = 1e39
    return out


class EmbeddingDialect(Protocol):
    def route(self, method: str, path: str, query: Mapping[str, str]) -> str | None:
        """The model (or deployment) of an embeddings call; None for any other path."""
        ...

    def request_problem(self, body: Mapping[str, Any], model: str) -> Reply | None: ...

    def texts(self, body: Mapping[str, Any]) -> list[str]: ...

    def dimensions(self, body: Mapping[str, Any]) -> int | None: ...

    def ok(
        self,
        vectors: list[Any],
        model: str,
        body: Mapping[str, Any],
        tokens: int,
        tamper: Tamper | None,
    ) -> Reply: ...


def _openai_error(message: str, param: str | None = None) -> Reply:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    return json_reply(400, {"error": error})


# CreateEmbeddingRequest's properties (openai-openapi 2.3.0).
_OPENAI_FIELDS = frozenset({"input", "model", "encoding_format", "dimensions", "user"})


class OpenAIEmbeddings:
    path = "/v1/embeddings"
    fields = _OPENAI_FIELDS

    def route(self, method: str, path: str, query: Mapping[str, str]) -> str | None:
        return "" if method == "POST" and path == self.path else None

    def request_problem(self, body: Mapping[str, Any], model: str) -> Reply | None:
        unknown = sorted(set(body) - self.fields)
        if unknown:
            return _openai_error(f"Unrecognized request argument supplied: {unknown[0]}")
        if "model" in self.fields and not isinstance(body.get("model"), str):
            return _openai_error("you must provide a model parameter", "model")
        value = body.get("input")
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or len(items) > 2048:
            return _openai_error("'input' is a required property", "input")
        if not all(isinstance(item, str) and item for item in items):
            return _openai_error("'$.input' is invalid.", "input")
        if body.get("encoding_format", "float") not in ("float", "base64"):
            return _openai_error("Invalid value for 'encoding_format'.", "encoding_format")
        return None

    def texts(self, body: Mapping[str, Any]) -> list[str]:
        value = body["input"]
        return [value] if isinstance(value, str) else list(value)

    def dimensions(self, body: Mapping[str, Any]) -> int | None:
        value = body.get("dimensions")
        return value if isinstance(value, int) else None

    def ok(
        self,
        vectors: list[Any],
        model: str,
        body: Mapping[str, Any],
        tokens: int,
        tamper: Tamper | None,
    ) -> Reply:
        values = _tampered(vectors, tamper) if tamper else vectors
        if body.get("encoding_format") == "base64":
            values = [_base64(v) if isinstance(v, list) else v for v in values]
        data = [
            {"object": "embedding", "index": n, "embedding": vector}
            for n, vector in enumerate(values)
        ]
        if tamper == "index" and len(data) > 1:
            data[1]["index"] = 0
        usage = {"prompt_tokens": -1 if tamper == "usage" else tokens, "total_tokens": tokens}
        document: dict[str, Any] = {"object": "list", "data": data, "model": model, "usage": usage}
        if tamper == "no_data":
            document = {"object": "list", "model": model, "usage": usage}
        return json_reply(200, document)


class AzureOpenAIEmbeddings(OpenAIEmbeddings):
    """Azure answers in OpenAI's shape; the deployment is in the path, not the body."""

    fields = _OPENAI_FIELDS - {"model"} | {"input_type"}

    def route(self, method: str, path: str, query: Mapping[str, str]) -> str | None:
        parts = path.split("/")
        # /openai/deployments/{deployment}/embeddings?api-version=...
        if (
            method == "POST"
            and len(parts) == 5
            and parts[:3] == ["", "openai", "deployments"]
            and parts[4] == "embeddings"
            and query.get("api-version")
        ):
            return parts[3]
        return None


_GEMINI_PATH = re.compile(r"^/v1beta/models/([^/:]+):(embedContent|batchEmbedContents)$")
# EmbedContentRequest (v1beta).
_GEMINI_FIELDS = frozenset({"model", "content", "taskType", "title", "outputDimensionality"})


def _gemini_error(message: str) -> Reply:
    return json_reply(
        400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}
    )


class GeminiEmbeddings:
    def route(self, method: str, path: str, query: Mapping[str, str]) -> str | None:
        match = _GEMINI_PATH.match(path)
        return match.group(1) if method == "POST" and match else None

    def _requests(self, body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        requests = body.get("requests")
        return list(requests) if isinstance(requests, list) else [body]

    def request_problem(self, body: Mapping[str, Any], model: str) -> Reply | None:
        batch = "requests" in body
        if batch and set(body) != {"requests"}:
            return _gemini_error(
                "Invalid JSON payload received. Unknown name at '': Cannot find field."
            )
        requests = self._requests(body)
        if batch and len(requests) > 100:
            return _gemini_error(
                "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"
            )
        for request in requests:
            unknown = sorted(set(request) - _GEMINI_FIELDS)
            if unknown:
                name = unknown[0]
                return _gemini_error(
                    f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
                )
            if batch and request.get("model") != f"models/{model}":
                return _gemini_error(
                    "* BatchEmbedContentsRequest.requests[0].model: the model in the request "
                    "must match the model in the path"
                )
            parts = (request.get("content") or {}).get("parts") or []
            if not parts or not all(isinstance(p.get("text"), str) for p in parts):
                return _gemini_error("* EmbedContentRequest.content: contents must not be empty")
        return None

    def texts(self, body: Mapping[str, Any]) -> list[str]:
        return ["".join(p["text"] for p in r["content"]["parts"]) for r in self._requests(body)]

    def dimensions(self, body: Mapping[str, Any]) -> int | None:
        value = self._requests(body)[0].get("outputDimensionality")
        return value if isinstance(value, int) else None

    def ok(
        self,
        vectors: list[Any],
        model: str,
        body: Mapping[str, Any],
        tokens: int,
        tamper: Tamper | None,
    ) -> Reply:
        values = _tampered(vectors, tamper) if tamper else vectors
        if "requests" not in body:
            document: dict[str, Any] = {"embedding": {"values": values[0] if values else []}}
        else:
            document = {"embeddings": [{"values": v} for v in values]}
        if tamper == "no_data":
            document = {}
        return json_reply(200, document)


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


EMBEDDING_DIALECTS: dict[str, type[EmbeddingDialect]] = {
    "openai": OpenAIEmbeddings,
    "azure_openai": AzureOpenAIEmbeddings,
    "gemini": GeminiEmbeddings,
}
