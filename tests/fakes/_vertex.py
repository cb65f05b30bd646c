"""Google Vertex AI on a regional endpoint: Gemini (`generateContent`,
`streamGenerateContent?alt=sse`) and Claude (`rawPredict`, `streamRawPredict`), from
Vertex AI's docs. The answers are Gemini's and Anthropic's own (the Gemini and
Anthropic fakes render them); Vertex's own errors (auth, quota) are Google's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.fakes._anthropic import AnthropicDialect
from tests.fakes._behaviours import ErrorBehaviour, Ok, RateLimited, Unauthorized
from tests.fakes._dialect import JsonAsked, Reply, Route
from tests.fakes._gemini import GeminiDialect
from tests.fakes._google import google_error

ANTHROPIC_VERSION = "vertex-2023-10-16"
_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/"
    r"(?P<publisher>google|anthropic)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$"
)
_METHODS = {
    "google": {"generateContent": False, "streamGenerateContent": True},
    "anthropic": {"rawPredict": False, "streamRawPredict": True},
}


def _anthropic_body(body: Mapping[str, Any]) -> bool:
    return "anthropic_version" in body or "messages" in body


class VertexDialect:
    def __init__(self, project: str = "test-project", region: str = "europe-west1") -> None:
        self.project = project
        self.region = region
        self._gemini = GeminiDialect()
        self._anthropic = AnthropicDialect()

    def route(self, method: str, path: str, query: Mapping[str, str]) -> Route | None:
        match = _PATH.match(path)
        if method != "POST" or match is None:
            return None
        if (match["project"], match["region"]) != (self.project, self.region):
            return None
        stream = _METHODS[match["publisher"]].get(match["method"])
        if stream is None or (match["publisher"] == "anthropic") != match["model"].startswith(
            "claude"
        ):
            return None
        if stream and match["publisher"] == "google" and query.get("alt") != "sse":
            return None
        return Route(stream=stream, model=match["model"])

    def authorized(self, headers: Mapping[str, str], api_key: str) -> bool:
        return True  # the bearer door (tests/fakes/_google.py) decides

    def header_problem(self, headers: Mapping[str, str]) -> Reply | None:
        return None

    def request_problem(self, body: Mapping[str, Any]) -> Reply | None:
        if not _anthropic_body(body):
            return self._gemini.request_problem(body)
        if body.get("anthropic_version") != ANTHROPIC_VERSION:
            return google_error(
                400, "INVALID_ARGUMENT", f"anthropic_version must be {ANTHROPIC_VERSION}"
            )
        if "model" in body:
            return google_error(
                400, "INVALID_ARGUMENT", "model: the model is named in the URL, not the body"
            )
        return self._anthropic.request_problem(
            {k: v for k, v in body.items() if k != "anthropic_version"} | {"model": "in-url"}
        )

    def json_asked(self, body: Mapping[str, Any]) -> JsonAsked | None:
        if _anthropic_body(body):
            return self._anthropic.json_asked(body)
        return self._gemini.json_asked(body)

    def echo(self, body: Any) -> str | None:
        if _anthropic_body(body):
            return self._anthropic.echo(body)
        return self._gemini.echo(body)

    def ok(self, ok: Ok, text: str, model: str, stream: bool, request: Mapping[str, Any]) -> Reply:
        if model.startswith("claude"):
            return self._anthropic.ok(ok, text, model, stream, request)
        return self._gemini.ok(ok, text, model, stream, request)

    def error(self, behaviour: ErrorBehaviour, model: str, stream: bool) -> Reply:
        if isinstance(behaviour, Unauthorized):
            return google_error(
                403,
                "PERMISSION_DENIED",
                "Permission 'aiplatform.endpoints.predict' denied on resource "
                f"'//aiplatform.googleapis.com/projects/{self.project}/locations/{self.region}"
                f"/publishers/google/models/{model}' (or it may not exist).",
            )
        if not model.startswith("claude"):
            return self._gemini.error(behaviour, model, stream)
        if isinstance(behaviour, RateLimited):
            # Vertex's own quota, in Google's shape, before the model is reached.
            return google_error(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_"
                f"base_model with base model: anthropic-{model}. Please submit a quota "
                "increase request.",
            )
        return self._anthropic.error(behaviour, model, stream)

    def error_under_200(self, stream: bool) -> Reply:
        return self._gemini.error_under_200(stream)

    def not_found(self, path: str) -> Reply:
        return google_error(404, "NOT_FOUND", f"Publisher Model `{path}` not found.")
