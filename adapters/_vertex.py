"""Google Vertex AI on a regional endpoint: Gemini (`generateContent`,
`streamGenerateContent?alt=sse`) and Anthropic's Claude (`rawPredict`,
`streamRawPredict`), with the Gemini and Anthropic codecs' own bodies and readers.

The publisher follows from the model: `claude-*` is Anthropic's, any other Google's.
Answers are read by their shape (an Anthropic message, error or event stream, or
Google's), since a codec reads an answer without the request: one provider may serve
both kinds of model, and Vertex's own errors (auth, quota) come in Google's shape
whatever the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from adapters._anthropic import AnthropicCodec
from adapters._anthropic import encode_body as anthropic_body
from adapters._anthropic import error_from_object as anthropic_error
from adapters._base import HttpRequest, ProviderError, ProviderTarget, StreamDecoder
from adapters._features import Feature
from adapters._gemini import GeminiCodec
from adapters._gemini import error_from_object as google_error
from adapters._gemini_body import encode_body as gemini_body
from adapters._http import body_text, load_object
from adapters._model import ChatRequest, ChatResponse, StreamEvent

if TYPE_CHECKING:
    from adapters._vertex_auth import GoogleCredentials

ANTHROPIC_VERSION = "vertex-2023-10-16"  # in the body: Vertex takes no anthropic-version header
# What Claude on Vertex honours beyond plain chat. Not Anthropic's API-only fields
# (inference_geo, speed, service_tier) nor its betas (structured output, effort).
_ANTHROPIC = frozenset(
    {Feature.TOP_K, Feature.SERIAL_TOOL_CALLS, Feature.THINKING, Feature.TOOL_CHOICE_NONE}
)
_GEMINI = GeminiCodec.features
# The Anthropic body fields Vertex does not take; never asked for by a feature, so
# "not sent" (README, Request fields).
_NOT_ON_VERTEX = ("model", "service_tier", "metadata")
# Longest start of a stream read before its kind is known: an SSE stream's first line.
_SNIFF_LIMIT = 64 * 1024


def publisher(model: str) -> str:
    return "anthropic" if model.startswith("claude") else "google"


def model_features(model: str) -> frozenset[Feature]:
    return _ANTHROPIC if publisher(model) == "anthropic" else _GEMINI


def _is_anthropic_error(obj: Mapping[str, Any]) -> bool:
    error = obj.get("error")
    return obj.get("type") == "error" or (isinstance(error, dict) and "type" in error)


class VertexCodec:
    # What every model on Vertex honours; each publisher's own is `model_features`.
    features: ClassVar[frozenset[Feature]] = _ANTHROPIC & _GEMINI

    def __init__(self, credentials: GoogleCredentials | None = None) -> None:
        self._credentials = credentials
        self._anthropic = AnthropicCodec()
        self._gemini = GeminiCodec()

    def encode_request(self, request: ChatRequest, target: ProviderTarget) -> HttpRequest:
        project, region = target.options["project"], target.options["region"]
        owner = publisher(target.model)
        url = (
            f"{target.base_url}/v1/projects/{project}/locations/{region}"
            f"/publishers/{owner}/models/{target.model}"
        )
        if owner == "anthropic":
            body = anthropic_body(request, target.model)
            for name in _NOT_ON_VERTEX:
                body.pop(name, None)
            body["anthropic_version"] = ANTHROPIC_VERSION
            url += ":streamRawPredict" if request.stream else ":rawPredict"
        else:
            body = gemini_body(request)
            url += ":streamGenerateContent?alt=sse" if request.stream else ":generateContent"
        headers = {"content-type": "application/json"}
        if self._credentials is not None:
            headers["authorization"] = f"Bearer {self._credentials.token}"
        return HttpRequest("POST", url, headers, orjson.dumps(body))

    def decode_response(self, body: bytes) -> ChatResponse:
        if load_object(body, "Vertex AI response").get("type") == "message":
            return self._anthropic.decode_response(body)
        return self._gemini.decode_response(body)

    def decode_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        try:
            obj = load_object(body, "error body")
        except ProviderError:
            obj = {"error": {"message": body_text(body)}}
        if _is_anthropic_error(obj):
            error = anthropic_error(obj, status, headers)
        else:
            error = google_error(obj, status, headers)
        if self._credentials is not None:
            for secret in self._credentials.secrets():
                error.message = error.message.replace(secret, "[redacted]")
        return error

    def stream_decoder(self) -> VertexStreamDecoder:
        return VertexStreamDecoder(self._anthropic, self._gemini)


class VertexStreamDecoder:
    """Reads the stream's first line to know whose events follow (Anthropic's begin with
    `event: message_start`, Gemini's with `data:`), then hands every byte to that
    codec's own decoder."""

    def __init__(self, anthropic: AnthropicCodec, gemini: GeminiCodec) -> None:
        self._anthropic = anthropic
        self._gemini = gemini
        self._inner: StreamDecoder | None = None
        self._held = bytearray()

    @property
    def buffered(self) -> int:
        return self._inner.buffered if self._inner is not None else len(self._held)

    def _choose(self, final: bool) -> StreamDecoder | None:
        for line in self._held.lstrip(b"\xef\xbb\xbf").splitlines(keepends=True):
            if not line.endswith((b"\n", b"\r")) and not final:
                break  # the line is not whole yet
            text = line.strip()
            if not text or text.startswith(b":"):
                continue  # blank lines and comments come before either kind
            if text.startswith(b"event:"):
                return self._anthropic.stream_decoder()
            return self._gemini.stream_decoder()
        if final or len(self._held) > _SNIFF_LIMIT:
            return self._gemini.stream_decoder()  # which finds it malformed
        return None

    def feed(self, chunk: bytes) -> list[StreamEvent]:
        if self._inner is not None:
            return self._inner.feed(chunk)
        self._held += chunk
        inner = self._choose(final=False)
        if inner is None:
            return []
        self._inner = inner
        held, self._held = bytes(self._held), bytearray()
        return inner.feed(held)

    def close(self) -> list[StreamEvent]:
        if self._inner is None:
            self._inner = self._choose(final=True) or self._gemini.stream_decoder()
            held, self._held = bytes(self._held), bytearray()
            events = self._inner.feed(held) if held else []
            return events + self._inner.close()
        return self._inner.close()
