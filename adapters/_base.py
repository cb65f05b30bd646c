"""The codec interfaces and the provider error type.

Codecs never do I/O (events in, commands out): the router owns the sockets and calls
a `ProviderCodec` to build the HTTP call and read the answer, and the inbound API
calls a `ClientCodec` to read the client's request and write the answer back. Chat and
embeddings each have their pair: an embeddings request is not a chat.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from adapters._embeddings import EmbeddingRequest, EmbeddingResponse
from adapters._features import Feature
from adapters._model import ChatRequest, ChatResponse, StreamEvent


class ProviderErrorKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429
    OVERLOADED = "overloaded"  # Anthropic 529, Gemini/OpenAI 503 "overloaded"
    SERVER_ERROR = "server_error"  # other 5xx
    TIMEOUT = "timeout"
    CONNECTION = "connection"  # refused, reset, DNS
    MALFORMED_RESPONSE = "malformed_response"  # unparsable JSON/SSE, wrong content type
    STREAM_INTERRUPTED = "stream_interrupted"  # stream ended without its final event
    INVALID_REQUEST = "invalid_request"  # 400, 404, 413, 422: the request itself is wrong
    CONTENT_FILTER = "content_filter"  # the provider refused on content policy
    AUTH = "auth"  # 401/403: our credentials for this provider are wrong


# Failures that say nothing about the request, only about this provider right now.
RETRYABLE_KINDS = frozenset(
    {
        ProviderErrorKind.RATE_LIMITED,
        ProviderErrorKind.OVERLOADED,
        ProviderErrorKind.SERVER_ERROR,
        ProviderErrorKind.TIMEOUT,
        ProviderErrorKind.CONNECTION,
        ProviderErrorKind.MALFORMED_RESPONSE,
        ProviderErrorKind.STREAM_INTERRUPTED,
    }
)


class ProviderError(Exception):
    """A provider call that did not produce an answer.

    `message` is the provider's own text; it may echo request content, so it is shown
    to the client (whose content it is) but never logged or audited. `param` is the
    request field the provider named as the culprit, in the provider's own spelling.
    """

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        provider_code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(kind.value)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.provider_code = provider_code
        self.param = param

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


@dataclass(frozen=True, slots=True)
class ProviderTarget:
    """What a provider codec needs to address one provider, taken from config."""

    base_url: str  # without trailing slash
    model: str  # the provider's model (Azure: the deployment name)
    api_key: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)  # e.g. Azure api_version


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


class StreamDecoder(Protocol):
    def feed(self, chunk: bytes) -> list[StreamEvent]:
        """Decode the next bytes of the body; raise ProviderError on an error event."""
        ...

    def close(self) -> list[StreamEvent]:
        """The body ended; raise ProviderError(STREAM_INTERRUPTED) if it ended early."""
        ...

    @property
    def buffered(self) -> int:
        """How much of an event not yet complete it holds (counted against memory)."""
        ...


class ProviderCodec(Protocol):
    features: ClassVar[frozenset[Feature]]  # what it can honour beyond plain chat

    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest: ...

    def decode_response(self, body: bytes) -> ChatResponse: ...

    def decode_error(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError: ...

    def stream_decoder(self) -> StreamDecoder: ...


class StreamEncoder(Protocol):
    def encode(self, event: StreamEvent) -> bytes:
        """Bytes to send to the client for this event (may be empty)."""
        ...

    def encode_error(self, status: int, error_type: str, message: str) -> bytes:
        """The protocol's in-stream error event; the stream ends after it."""
        ...


class ClientCodec(Protocol):
    def decode_request(self, body: Any) -> ChatRequest:
        """Parse the client's decoded JSON body; raise InvalidRequest on a bad field."""
        ...

    def encode_response(
        self, response: ChatResponse, request: ChatRequest, request_id: str, model: str
    ) -> bytes:
        """The answer to `request` (a protocol may repeat parts of the request in it)."""
        ...

    def stream_encoder(
        self, request: ChatRequest, request_id: str, model: str
    ) -> StreamEncoder: ...

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes: ...


class EmbeddingProviderCodec(Protocol):
    max_inputs: ClassVar[int]  # the most inputs one call may carry; more skips the provider

    def encode_embeddings(
        self, request: EmbeddingRequest, target: ProviderTarget
    ) -> HttpRequest: ...

    def decode_embeddings(self, body: bytes, request: EmbeddingRequest) -> EmbeddingResponse:
        """The answer's vectors, one per input of `request`, every value checked."""
        ...

    def decode_error(
        self, status: int, headers: Mapping[str, str], body: bytes
    ) -> ProviderError: ...


class EmbeddingClientCodec(Protocol):
    def decode_request(self, body: Any) -> EmbeddingRequest:
        """Parse the client's decoded JSON body; raise InvalidRequest on a bad field."""
        ...

    def encode_response(
        self, response: EmbeddingResponse, request: EmbeddingRequest, model: str, usage: int
    ) -> bytes:
        """The answer, vectors written as `request.encoding_format` asks; `usage` is the
        input token count to report."""
        ...

    def encode_error(
        self, status: int, error_type: str, message: str, param: str | None = None
    ) -> bytes: ...


class InvalidRequest(Exception):
    """The client's request body does not follow its protocol."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
