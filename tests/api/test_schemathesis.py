"""schemathesis against the sidecar's own OpenAPI document, on a real sidecar.

The sidecar and its fake provider run on an event loop of their own thread
(tests/api/_background.py). Every generated request must get an answer the document
describes: no server error, a documented status code and content type, a body
matching the response schema. test_protocol_fuzz.py asserts more of the chat routes.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from policy_engine.api._openapi import openapi_document
from tests.api._background import BackgroundSidecar, Fake

schema = schemathesis.openapi.from_dict(openapi_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        sidecar = BackgroundSidecar(
            tmp_path_factory.mktemp("schemathesis"),
            monkeypatch,
            {"alpha": Fake("openai", {"residency": "eu"})},
        )
        url = sidecar.start()
        yield url
        sidecar.stop()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_conforms_to_the_openapi_document(
    case: schemathesis.Case, base_url: str
) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
