"""Validators for what the sidecar sends: OpenAI's published schemas, Anthropic's SDK types.

OpenAI, Chat Completions, Responses and Embeddings: the schemas vendored in specs/ (see
its README), with OpenAPI 3.0's `nullable: true` read as "or null", checked with
jsonschema (draft 2020-12).
Anthropic: the official SDK's pydantic types, validated in strict mode, and no field
outside them (the SDK's models keep unknown fields aside instead of refusing them).
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import anthropic.types as anthropic_types
import jsonschema
import pydantic
from anthropic.types.shared import ErrorResponse as AnthropicErrorResponse
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPECS = Path(__file__).parent / "specs"
SPEC = SPECS / "openai-chat-completions.json"
RESPONSES_SPEC = SPECS / "openai-responses.json"
EMBEDDINGS_SPEC = SPECS / "openai-embeddings.json"


def _or_null(node: Any) -> Any:
    """`nullable: true` as JSON Schema says it: the type (or the whole schema) or null."""
    if isinstance(node, list):
        return [_or_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _or_null(value) for key, value in node.items()}
    if node.pop("nullable", False) is not True:
        return node
    if isinstance(node.get("type"), str) and "enum" not in node:
        node["type"] = [node["type"], "null"]
        return node
    return {"anyOf": [node, {"type": "null"}]}


@cache
def _registry(spec: Path) -> Registry[Any]:
    document = _or_null(json.loads(spec.read_text()))
    resource = Resource(contents=document, specification=DRAFT202012)
    return Registry().with_resource(f"urn:{spec.stem}", resource)


@cache
def _validator(spec: Path, schema: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:{spec.stem}#/components/schemas/{schema}"}, registry=_registry(spec)
    )


def _problems(spec: Path, schema: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '.'}: {error.message}"
        for error in _validator(spec, schema).iter_errors(document)
    ]


def openai_problems(schema: str, document: Any) -> list[str]:
    """Every way `document` breaks OpenAI's Chat Completions `schema`, as path: message."""
    return _problems(SPEC, schema, document)


def responses_problems(schema: str, document: Any) -> list[str]:
    """Every way `document` breaks OpenAI's Responses `schema`, as path: message."""
    return _problems(RESPONSES_SPEC, schema, document)


@cache
def _event_schemas() -> dict[str, str]:
    """Each Responses stream event's `type` -> the schema of that event."""
    schemas = json.loads(RESPONSES_SPEC.read_text())["components"]["schemas"]
    events: dict[str, str] = {}
    for choice in schemas["ResponseStreamEvent"]["anyOf"]:
        name = choice["$ref"].rsplit("/", 1)[1]
        for kind in schemas[name]["properties"]["type"]["enum"]:
            events[kind] = name
    return events


def responses_event_problems(event: str | None, document: Any) -> list[str]:
    """One Responses SSE event: named as its data's `type`, valid as that event's schema."""
    kind = document.get("type") if isinstance(document, dict) else None
    schema = _event_schemas().get(kind) if isinstance(kind, str) else None
    if schema is None:
        return [f"{kind!r} is not a Responses stream event"]
    problems = [] if event == kind else [f"event {event!r} carries data of type {kind!r}"]
    return problems + _problems(RESPONSES_SPEC, schema, document)


def embeddings_problems(document: Any) -> list[str]:
    """An embeddings answer against OpenAI's CreateEmbeddingResponse. The schema types a
    vector as numbers only, yet its request's `encoding_format: base64` (the SDK's
    default) answers each as a base64 string of little-endian float32: such a string
    must decode to whole float32 values, and is then checked as those numbers. Every
    vector must have the same length, and the indexes run 0..n-1."""
    problems: list[str] = []
    data = document.get("data") if isinstance(document, dict) else None
    if isinstance(data, list):
        decoded = []
        for n, item in enumerate(data):
            vector = item.get("embedding") if isinstance(item, dict) else None
            if isinstance(vector, str):
                try:
                    raw = base64.b64decode(vector, validate=True)
                except binascii.Error:
                    problems.append(f"data/{n}/embedding: not base64")
                    raw = b""
                if len(raw) % 4:
                    problems.append(f"data/{n}/embedding: not whole float32 values")
                vector = list(struct.unpack(f"<{len(raw) // 4}f", raw[: len(raw) // 4 * 4]))
                item = {**item, "embedding": vector}
            decoded.append(item)
        document = {**document, "data": decoded}
        lengths = {len(i["embedding"]) for i in decoded if isinstance(i.get("embedding"), list)}
        if len(lengths) > 1:
            problems.append(f"data: vectors of {len(lengths)} different lengths")
        if [i.get("index") for i in decoded] != list(range(len(decoded))):
            problems.append("data: indexes do not run 0..n-1")
    return problems + _problems(EMBEDDINGS_SPEC, "CreateEmbeddingResponse", document)


def _request_fields(spec: Path, root: str) -> set[str]:
    """The top-level fields of a request schema, its allOf parts merged."""
    schemas = json.loads(spec.read_text())["components"]["schemas"]
    fields: set[str] = set()

    def collect(schema: dict[str, Any]) -> None:
        if "$ref" in schema:
            collect(schemas[schema["$ref"].rsplit("/", 1)[1]])
        for part in schema.get("allOf", []):
            collect(part)
        fields.update(schema.get("properties", {}))

    collect(schemas[root])
    return fields


def openai_request_fields(
    spec: Path = SPEC, request: str = "CreateChatCompletionRequest"
) -> set[str]:
    """The top-level fields of an OpenAI request (by default CreateChatCompletionRequest)."""
    return _request_fields(spec, request)


def responses_request_fields() -> set[str]:
    """The top-level fields of CreateResponse."""
    return _request_fields(RESPONSES_SPEC, "CreateResponse")


def _extras(value: Any, where: str = "") -> Iterator[str]:
    """Fields the SDK's types do not define (kept in model_extra by its models)."""
    if isinstance(value, pydantic.BaseModel):
        for name in value.model_extra or {}:
            yield f"{where}.{name}: not a field of {type(value).__name__}"
        for name in type(value).model_fields:
            yield from _extras(getattr(value, name), f"{where}.{name}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _extras(item, f"{where}[{n}]")


def _anthropic_problems(kind: Any, document: Any) -> list[str]:
    try:
        parsed = pydantic.TypeAdapter(kind).validate_python(document, strict=True)
    except pydantic.ValidationError as error:
        return [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors(include_url=False)
        ]
    return list(_extras(parsed))


def anthropic_message_problems(document: Any) -> list[str]:
    return _anthropic_problems(anthropic_types.Message, document)


# Anthropic's error reference (https://docs.claude.com/en/api/errors) lists 413
# `request_too_large`, which the SDK's ErrorObject union lacks (Cloudflare sends it
# before a request reaches the API): checked as the SDK's shape with that one type.
_DOCUMENTED_ERROR_TYPES = {"request_too_large": "invalid_request_error"}


def anthropic_error_problems(document: Any) -> list[str]:
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict) and error.get("type") in _DOCUMENTED_ERROR_TYPES:
        substitute = _DOCUMENTED_ERROR_TYPES[error["type"]]
        document = document | {"error": error | {"type": substitute}}
    return _anthropic_problems(AnthropicErrorResponse, document)


def anthropic_event_problems(event: str, document: Any) -> list[str]:
    """An SSE event: its data validates as the SDK's event of the type its name says."""
    if not isinstance(document, dict) or document.get("type") != event:
        return [f"event {event!r} carries data of type {document.get('type')!r}"]
    if event == "ping":
        return [] if document == {"type": "ping"} else ["ping carries fields"]
    if event == "error":
        return anthropic_error_problems(document)
    return _anthropic_problems(anthropic_types.RawMessageStreamEvent, document)


@dataclass
class SSEEvent:
    event: str | None
    data: str


def sse_events(body: bytes) -> list[SSEEvent]:
    """Split an event stream the way the SSE spec reads one (LF line ends only)."""
    events = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        name = None
        data: list[str] = []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append(SSEEvent(name, "\n".join(data)))
    return events
