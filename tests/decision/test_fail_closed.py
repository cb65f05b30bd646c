"""When OPA is gone, slow or talking nonsense, the Decider raises and never returns a decision."""

from __future__ import annotations

from typing import Any

import pytest

from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import Decider, OpaEngine
from tests.decision._support import ENTRYPOINT, FakeOpa, context, running_opa

CATALOG: dict[str, Any] = {
    "eu-1": {"adapter": "openai", "models": ["default"], "attributes": {"residency": "eu"}},
    "us-1": {"adapter": "openai", "models": ["default"], "attributes": {"residency": "us"}},
}
VALID_DECISION: dict[str, Any] = {
    "tenant_known": True,
    "allowed": ["eu-1"],
    "denied": {"us-1": ["residency: tenant requires eu, provider processes data in us"]},
    "obligations": {"redact": {"eu-1": ["SECRET"]}, "allow_refusal_fallback": False},
    "preference": [],
    "constraints": {"residency": "eu", "privacy_tags": []},
}


async def decide_through(
    url: str, decider_timeout_ms: float = 2000, engine_timeout_ms: float = 2000
) -> PolicyUnavailable:
    """Ask for a decision that must fail; the error it fails with."""
    engine = OpaEngine(url, ENTRYPOINT, timeout_ms=engine_timeout_ms)
    decider = Decider(engine, CATALOG, timeout_ms=decider_timeout_ms)
    try:
        with pytest.raises(PolicyUnavailable) as raised:
            await decider.decide(context("acme-eu"))
    finally:
        await engine.close()
    return raised.value


async def test_valid_answer_from_the_fake_is_accepted(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"result": VALID_DECISION})
    engine = OpaEngine(fake_opa.url, ENTRYPOINT, timeout_ms=2000)
    try:
        decision = await Decider(engine, CATALOG, timeout_ms=2000).decide(context("acme-eu"))
    finally:
        await engine.close()
    assert decision.allowed == ("eu-1",)


async def test_opa_killed_mid_run_is_unreachable() -> None:
    with running_opa() as server:
        engine = OpaEngine(server.url, ENTRYPOINT, timeout_ms=2000)
        decider = Decider(engine, CATALOG, timeout_ms=2000)
        try:
            assert (await decider.decide(context("sandbox"))).allowed == ("eu-1", "us-1")
            server.process.kill()
            server.process.wait(timeout=10)
            with pytest.raises(PolicyUnavailable) as raised:
                await decider.decide(context("sandbox"))
        finally:
            await engine.close()
    assert raised.value.cause == "unreachable"


async def test_opa_slower_than_the_decider_deadline_is_a_timeout(fake_opa: FakeOpa) -> None:
    fake_opa.stall = True
    error = await decide_through(fake_opa.url, decider_timeout_ms=50, engine_timeout_ms=5000)
    assert error.cause == "timeout"


async def test_opa_slower_than_the_http_timeout_is_a_timeout(fake_opa: FakeOpa) -> None:
    fake_opa.stall = True
    error = await decide_through(fake_opa.url, decider_timeout_ms=5000, engine_timeout_ms=50)
    assert error.cause == "timeout"


async def test_non_json_answer_is_malformed(fake_opa: FakeOpa) -> None:
    fake_opa.answer(200, b"<html>not OPA</html>")
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_json_answer_that_is_not_an_object_is_malformed(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json([{"result": VALID_DECISION}])
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_answer_without_result_is_undefined(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({})
    assert (await decide_through(fake_opa.url)).cause == "undefined"


async def test_null_result_is_undefined(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"result": None})
    assert (await decide_through(fake_opa.url)).cause == "undefined"


async def test_result_that_is_not_an_object_is_malformed(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"result": ["eu-1"]})
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_result_with_a_field_of_the_wrong_type_is_malformed(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"result": {**VALID_DECISION, "allowed": "eu-1"}})
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_result_with_an_unexpected_field_is_malformed(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"result": {**VALID_DECISION, "allow_all": True}})
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_result_allowing_a_provider_outside_the_catalog_is_malformed(
    fake_opa: FakeOpa,
) -> None:
    decision = {
        **VALID_DECISION,
        "allowed": ["eu-1", "elsewhere"],
        "obligations": {"redact": {"eu-1": [], "elsewhere": []}},
    }
    fake_opa.answer_json({"result": decision})
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_result_allowing_a_provider_without_redaction_obligations_is_malformed(
    fake_opa: FakeOpa,
) -> None:
    fake_opa.answer_json({"result": {**VALID_DECISION, "obligations": {"redact": {}}}})
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_result_both_allowing_and_denying_a_provider_is_malformed(fake_opa: FakeOpa) -> None:
    denied = {"eu-1": ["tenant: deny list"], "us-1": ["residency"]}
    fake_opa.answer_json({"result": {**VALID_DECISION, "denied": denied}})
    assert (await decide_through(fake_opa.url)).cause == "malformed"


async def test_server_error_from_opa_is_an_error(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"code": "internal_error", "message": "synthetic failure"}, status=500)
    assert (await decide_through(fake_opa.url)).cause == "error"


async def test_bad_request_from_opa_is_an_error(fake_opa: FakeOpa) -> None:
    fake_opa.answer_json({"code": "invalid_parameter", "message": "synthetic"}, status=400)
    assert (await decide_through(fake_opa.url)).cause == "error"


async def test_server_error_with_a_plain_text_body_is_an_error(fake_opa: FakeOpa) -> None:
    fake_opa.answer(502, b"Bad Gateway")
    assert (await decide_through(fake_opa.url)).cause == "error"
