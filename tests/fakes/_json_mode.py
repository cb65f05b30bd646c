"""What a fake model writes when a request asks for JSON: an instance of the schema.

Real providers decode under the schema, so their answer always validates; the fakes
build a valid instance instead, with every string set to the text they would have
echoed (so redaction and restoration show through JSON answers too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def json_instance(schema: Mapping[str, Any] | None, text: str) -> Any:
    """A value that validates against `schema` (None: any JSON object)."""
    if schema is None:
        return {"answer": text}
    return _instance(schema, schema, text, 0)


def _resolve(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    node: Any = root
    for step in ref.removeprefix("#/").split("/"):
        node = node[step]
    return node  # type: ignore[no-any-return]


def _instance(schema: Mapping[str, Any], root: Mapping[str, Any], text: str, depth: int) -> Any:
    if depth > 8:
        return None
    if "$ref" in schema:
        return _instance(_resolve(root, schema["$ref"]), root, text, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _instance(schema[key][0], root, text, depth + 1)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {name: _instance(sub, root, text, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        items = schema.get("items") or {}
        return [_instance(items, root, text, depth + 1) for _ in range(count)]
    if kind == "string":
        return text
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 0.5))
    if kind == "boolean":
        return True
    return None


def unknown_fields(body: Mapping[str, Any], known: frozenset[str]) -> list[str]:
    return sorted(k for k in body if k not in known)
