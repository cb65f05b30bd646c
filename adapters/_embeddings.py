"""The protocol-neutral embeddings model.

Embeddings are not chat: a request is a list of texts and a few options, an answer one
vector per text. The inbound codec parses into `EmbeddingRequest`; provider codecs
encode it and decode their answer into `EmbeddingResponse`, every vector checked on
the way in (`adapters._validate.vectors`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EncodingFormat = Literal["float", "base64"]


@dataclass(slots=True)
class EmbeddingRequest:
    """`inputs` and `user` hold client text and are redacted before they leave; the
    other fields are numbers and enums."""

    model: str  # the alias (or model name) the client asked for
    inputs: list[str]
    dimensions: int | None = None
    encoding_format: EncodingFormat = "float"  # how the client wants its vectors written
    user: str | None = None

    def with_texts(self, inputs: list[str], user: str | None) -> EmbeddingRequest:
        """A copy with its texts replaced; every other field kept."""
        return EmbeddingRequest(self.model, inputs, self.dimensions, self.encoding_format, user)


@dataclass(slots=True)
class EmbeddingResponse:
    model: str  # the provider's name for its model ("" when it names none)
    vectors: list[list[float]]  # one per input, in input order
    input_tokens: int | None  # None: the provider reports no usage (Gemini)
