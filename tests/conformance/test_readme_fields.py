"""README "Request fields" has a row for every field of the inbound protocols (the
Responses API's and the embeddings request's in their own tables) and names every
feature the route plan can skip a candidate for."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from anthropic.types import message_create_params

from adapters import Feature
from adapters._embeddings_client import FIELDS as EMBEDDING_FIELDS
from tests.conformance._validators import (
    EMBEDDINGS_SPEC,
    openai_request_fields,
    responses_request_fields,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def section() -> str:
    text = README.read_text()
    start = text.index("## Request fields")
    return text[start : text.index("\n## ", start + 1)]


def named(text: str | None = None) -> set[str]:
    """Every `code` span of the section, split on dots, so `a.b` names a and b."""
    names: set[str] = set()
    for span in re.findall(r"`([^`]+)`", section() if text is None else text):
        names.add(span)
        names.update(part.split(":")[0] for part in span.split("."))
    return names


def test_every_openai_request_field_has_a_row() -> None:
    assert openai_request_fields() - named() == set()


def test_every_anthropic_request_field_has_a_row() -> None:
    hints = typing.get_type_hints(message_create_params.MessageCreateParamsNonStreaming)
    assert (set(hints) | {"temperature", "top_p", "top_k"}) - named() == set()


def test_every_feature_is_named_in_brackets() -> None:
    bracketed = set(re.findall(r"\[`([^`]+)`\]", section()))
    assert {f.value for f in Feature} - bracketed == set()


def test_every_responses_request_field_has_a_row_in_its_own_table() -> None:
    text = section()
    start = text.index("**OpenAI Responses**")
    table = text[start : text.index("\n\n", text.index("| field |", start))]
    assert responses_request_fields() - named(table) == set()


def test_every_embeddings_request_field_has_a_row_and_is_served() -> None:
    fields = openai_request_fields(EMBEDDINGS_SPEC, "CreateEmbeddingRequest")
    assert fields - named() == set()
    assert fields == set(EMBEDDING_FIELDS)
