"""OPA's bundle revisions are free text; what becomes `x-policy-revision` and enters the
record is always one header-safe token that gives the exact revision back.

A bundle built with `opa build --revision "$(...)"` can carry anything, CR/LF included.
Unchecked, a CR/LF revision made the server refuse the response header after the
provider had been called: the client got no answer, the record said answered/200.
Decision: percent-encode every character outside `-._~:/+=` (urllib.parse.unquote
restores the revision) and fail closed only on what cannot be a revision (not a
string, or longer than 1,024 characters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import Decider, OpaEngine
from tests.decision._support import ENTRYPOINT, FakeOpa, context
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

ALLOW_ALPHA = {
    "tenant_known": True,
    "allowed": ["alpha"],
    "denied": {},
    "obligations": {"redact": {"alpha": []}},
}
HEADER_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/+=%@,")


async def decide_with(fake_opa: FakeOpa, bundles: Any) -> str:
    fake_opa.answer_json({"result": ALLOW_ALPHA, "provenance": {"bundles": bundles}})
    engine = OpaEngine(fake_opa.url, ENTRYPOINT, timeout_ms=2000)
    try:
        decider = Decider(engine, {"alpha": {}}, timeout_ms=2000)
        decision = await decider.decide(context("sandbox"))
    finally:
        await engine.close()
    return decision.revision


@pytest.mark.parametrize(
    "revision",
    [
        "r-1\r\nx-injected: 1",
        "r-1\n",
        "v1 2024-01-01",
        "r@1,tenants@2",
        "Grüße-ü",
        "100%",
        "\x00\x7f",
    ],
    ids=["crlf-header", "trailing-lf", "space", "separators", "unicode", "percent", "controls"],
)
async def test_a_bundle_revision_with_any_character_becomes_a_header_safe_token(
    fake_opa: FakeOpa, revision: str
) -> None:
    result = await decide_with(fake_opa, {"router": {"revision": revision}})

    assert set(result) <= HEADER_SAFE
    name, _, encoded = result.removeprefix("bundle:").partition("@")
    assert (name, unquote(encoded)) == ("router", revision), "the exact revision comes back"


async def test_a_bundle_name_with_separators_cannot_fake_another_bundle(
    fake_opa: FakeOpa,
) -> None:
    result = await decide_with(fake_opa, {"a@1,b": {"revision": "2"}})
    assert result == "bundle:a%401%2Cb@2"


@pytest.mark.parametrize(
    "bundles",
    [{"router": {"revision": 7}}, {"router": {"revision": "r" * 2000}}],
    ids=["not-a-string", "too-long"],
)
async def test_what_cannot_be_a_revision_fails_closed(fake_opa: FakeOpa, bundles: Any) -> None:
    with pytest.raises(PolicyUnavailable) as caught:
        await decide_with(fake_opa, bundles)
    assert caught.value.cause == "malformed"


async def test_a_crlf_revision_still_answers_the_client_with_a_matching_record(
    fake_opa: FakeOpa, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revision = "r-9\r\nset-cookie: x=1"
    fake_opa.answer_json(
        {"result": ALLOW_ALPHA, "provenance": {"bundles": {"router": {"revision": revision}}}}
    )
    async with FakeProvider("openai", name="alpha") as alpha:
        settings = build_settings(
            tmp_path, [ProviderSpec("alpha", alpha)], policy={"opa_url": fake_opa.url}
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                response = await http.post(
                    "/v1/chat/completions",
                    json={"model": "default", "messages": [{"role": "user", "content": "Hi"}]},
                    headers={"X-Tenant-ID": "sandbox"},
                )
        finally:
            await running.stop()

    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    header = response.headers["x-policy-revision"]
    assert unquote(header) == f"bundle:router@{revision}"
    record = running.audit_events()[-1]
    assert (record["outcome"], record["policy"]["revision"]) == ("answered", header)
