"""The inbound protocols fuzzed from their schema, with assertions on every answer.

schemathesis generates chat requests from the sidecar's OpenAPI document (bodies and
privacy tags); the model is mostly the configured alias and the tenant `sandbox` with
residency `eu`, so requests get past the first checks and reach the routing. Every
answer must then be, in the route's own protocol,
- a valid answer: a chat completion, a message or a response (checked as every test
  sidecar's Responses answers are, tests/conformance), or a stream whose every event is
  a chunk or the protocol's error event and which ends as the protocol ends one; or
- the protocol's error shape, with a documented status;
never a 500, and never from a provider outside the allowed set: `outside` (US) is
configured and never allowed, and must receive nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, status_code_conformance

from policy_engine.api._openapi import openapi_document
from tests.api._background import BackgroundSidecar, Fake
from tests.conformance._recorder import answer_problems

CHAT_PATHS = "^/v1/(chat/completions|messages|responses)$"
# Valid and invalid requests alike (schemathesis's default), and valid ones only, which
# get further: to the routing and the providers.
schema = schemathesis.openapi.from_dict(openapi_document()).include(path_regex=CHAT_PATHS)
valid_only = schemathesis.openapi.from_dict(openapi_document()).include(path_regex=CHAT_PATHS)
valid_only.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
TAGS = st.lists(st.sampled_from(["pii", "phi", "pci", "confidential", "unknown-tag"]), max_size=3)
ALLOWED = {"inside"}
DOCUMENTED = {200, 400, 401, 403, 404, 408, 413, 503}


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundSidecar]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        background = BackgroundSidecar(
            tmp_path_factory.mktemp("protocol-fuzz"),
            monkeypatch,
            {
                "inside": Fake(
                    "openai",
                    {
                        "residency": "eu",
                        "self_hosted": True,
                        "zero_data_retention": True,
                        "certifications": ["hipaa_baa"],
                    },
                    priority=2,
                ),
                "outside": Fake("anthropic", {"residency": "us"}, priority=1),
            },
        )
        background.start()
        yield background
        background.stop()


def sse_events(raw: str) -> list[tuple[str, str]]:
    """(event name, data) of each event of an SSE body."""
    events = []
    for block in raw.strip().split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append((name, "\n".join(data)))
    return events


def assert_openai_answer(document: dict[str, Any]) -> None:
    assert document["object"] == "chat.completion"
    assert document["choices"][0]["message"]["role"] == "assistant"
    assert all(isinstance(v, int) and v >= 0 for v in document["usage"].values())


def assert_anthropic_answer(document: dict[str, Any]) -> None:
    assert (document["type"], document["role"]) == ("message", "assistant")
    assert isinstance(document["content"], list)
    assert all(isinstance(v, int) and v >= 0 for v in document["usage"].values())


def assert_openai_stream(raw: str) -> None:
    events = sse_events(raw)
    for _, data in events[:-1]:
        chunk = json.loads(data)
        assert chunk.get("object") == "chat.completion.chunk" or "error" in chunk
    last = events[-1][1]
    assert last == "[DONE]" or "error" in json.loads(last)


def assert_anthropic_stream(raw: str) -> None:
    events = sse_events(raw)
    for name, data in events:
        assert json.loads(data)["type"] == name
    assert events[-1][0] in ("message_stop", "error")


def assert_error(path: str, document: dict[str, Any]) -> None:
    error = document["error"]
    assert isinstance(error["message"], str) and error["message"]
    if path == "/v1/messages":
        assert document["type"] == "error" and isinstance(error["type"], str)
    else:
        assert set(error) >= {"message", "type", "code", "param"}


def check_answer(
    case: schemathesis.Case, sidecar: BackgroundSidecar, headers: dict[str, str]
) -> None:
    response = case.call(base_url=sidecar.url, headers=headers, timeout=30)
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance])

    assert response.status_code in DOCUMENTED
    routed = response.headers.get("x-routed-provider")
    assert routed is None or set(routed) <= ALLOWED
    assert sidecar.fakes["outside"].received == [], "a provider outside the allowed set"
    content_type = (response.headers.get("content-type") or [""])[0]
    path = case.operation.path
    if path == "/v1/responses":
        status = response.status_code
        assert answer_problems("responses", status, content_type, response.content) == []
    elif response.status_code != 200:
        assert_error(path, response.json())
    elif content_type.startswith("text/event-stream"):
        (assert_openai_stream if path == "/v1/chat/completions" else assert_anthropic_stream)(
            response.text
        )
    else:
        (assert_openai_answer if path == "/v1/chat/completions" else assert_anthropic_answer)(
            response.json()
        )


def steer(case: schemathesis.Case, known_model: bool, stream: bool | None) -> None:
    if isinstance(case.body, dict):
        if known_model:
            case.body["model"] = "default"
        if stream is not None:
            case.body["stream"] = stream


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.parametrize()
@schema.given(known_model=st.booleans(), stream=st.sampled_from([None, False, True]))
@FUZZ
def test_any_chat_request_gets_a_valid_answer_or_the_protocols_error(
    case: schemathesis.Case, sidecar: BackgroundSidecar, known_model: bool, stream: bool | None
) -> None:
    steer(case, known_model, stream)
    check_answer(case, sidecar, {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"})


@valid_only.parametrize()
@valid_only.given(stream=st.sampled_from([None, False, True]), tags=TAGS)
@FUZZ
def test_valid_chat_requests_are_answered_only_from_inside_the_allowed_set(
    case: schemathesis.Case, sidecar: BackgroundSidecar, stream: bool | None, tags: list[str]
) -> None:
    steer(case, True, stream)
    headers = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu", "X-Privacy-Tags": ",".join(tags)}
    check_answer(case, sidecar, headers)
