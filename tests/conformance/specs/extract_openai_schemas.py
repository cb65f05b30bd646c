"""Extract the Chat Completions, Responses or Embeddings schemas from OpenAI's published
OpenAPI document.

    git -C openai-openapi show <commit>:openapi.json > openapi.json
    python tests/conformance/specs/extract_openai_schemas.py openapi.json \
        > tests/conformance/specs/openai-chat-completions.json
    python tests/conformance/specs/extract_openai_schemas.py openapi.json responses \
        > tests/conformance/specs/openai-responses.json
    python tests/conformance/specs/extract_openai_schemas.py openapi.json embeddings \
        > tests/conformance/specs/openai-embeddings.json

The full document is 3.4 MB; the conformance suite needs each API's request, answer,
stream events and error, with every schema they reference. Each schema is copied as
published, untouched, so a reader can diff it against the source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOTS = {
    "chat": (
        "CreateChatCompletionRequest",
        "CreateChatCompletionResponse",
        "CreateChatCompletionStreamResponse",
        "ErrorResponse",
    ),
    "responses": ("CreateResponse", "Response", "ResponseStreamEvent", "ErrorResponse"),
    "embeddings": ("CreateEmbeddingRequest", "CreateEmbeddingResponse", "ErrorResponse"),
}
PREFIX = "#/components/schemas/"


def referenced(schemas: dict[str, Any], roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        stack: list[Any] = [schemas[name]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith(PREFIX):
                    todo.append(ref.removeprefix(PREFIX))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return seen


def main(source: Path, api: str = "chat") -> None:
    document = json.loads(source.read_text())
    schemas = document["components"]["schemas"]
    names = referenced(schemas, ROOTS[api])
    out = {
        "openapi": document["openapi"],
        "info": {"title": document["info"]["title"], "version": document["info"]["version"]},
        "components": {"schemas": {name: schemas[name] for name in sorted(names)}},
    }
    sys.stdout.write(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:3])
