"""Every provider failure kind, streamed or not, on either of two providers, end to end.

One sidecar serves the whole module: `alpha` (OpenAI wire format) is tried first and
`bravo` (Anthropic wire format) second. A case scripts the failure on one of them and
states what the client sees, which fakes were called, and what the audit record says.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio

from tests.fakes import (
    Behaviour,
    ConnectionReset,
    ContentFilter,
    FakeProvider,
    InvalidRequest,
    MalformedJSON,
    MalformedSSE,
    Overloaded,
    RateLimited,
    ServerError,
    SlowFirstByte,
    StreamCut,
    Unauthorized,
    Unavailable,
    WrongContentType,
)
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIRST_BYTE_TIMEOUT_S = 0.5
# Both fakes count as self-hosted, so tenant paystream (pci, no refusal fallback) may
# use either, and needs no NER backend for its redaction obligations.
SELF_HOSTED = {"self_hosted": True}
NO_REFUSAL_FALLBACK = "paystream"
ANSWERS = {"alpha": "answer from alpha", "bravo": "answer from bravo"}


@dataclass
class Fakes:
    alpha: FakeProvider
    bravo: FakeProvider

    def __iter__(self) -> Iterator[FakeProvider]:
        return iter((self.alpha, self.bravo))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fakes() -> AsyncIterator[Fakes]:
    async with (
        FakeProvider("openai", name="alpha", reply=ANSWERS["alpha"]) as alpha,
        FakeProvider("anthropic", name="bravo", reply=ANSWERS["bravo"]) as bravo,
    ):
        yield Fakes(alpha, bravo)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sidecar(
    tmp_path_factory: pytest.TempPathFactory, fakes: Fakes
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path_factory.mktemp("matrix"),
        [
            ProviderSpec("alpha", fakes.alpha, attributes=SELF_HOSTED, priority=1),
            ProviderSpec("bravo", fakes.bravo, attributes=SELF_HOSTED, priority=2),
        ],
        routing={
            "connect_timeout_s": FIRST_BYTE_TIMEOUT_S,
            "first_byte_timeout_s": FIRST_BYTE_TIMEOUT_S,
            # Cases share the sidecar: no case may open a circuit for the next one.
            "circuit_failure_threshold": 1000,
        },
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = await start_sidecar(settings, monkeypatch)
        yield running
        await running.stop()
    running.verify_audit()


@pytest_asyncio.fixture(loop_scope="module")
async def client(sidecar: RunningSidecar, fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    for fake in fakes:
        fake.received.clear()
    sidecar.sidecar.metrics.misconfigured.clear()
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http:
        yield http


@dataclass
class Answer:
    status: int
    text: str
    finish: str | None
    error: dict[str, Any] | None
    routed: str | None


async def ask(http: httpx.AsyncClient, tenant: str, stream: bool) -> Answer:
    body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], "stream": stream}
    async with http.stream(
        "POST", "/v1/chat/completions", json=body, headers={"X-Tenant-ID": tenant}
    ) as response:
        raw = await response.aread()
    routed = response.headers.get("x-routed-provider")
    if response.headers["content-type"].startswith("application/json"):
        document = orjson.loads(raw)
        if "error" in document:
            return Answer(response.status_code, "", None, document["error"], routed)
        choice = document["choices"][0]
        text = choice["message"]["content"] or ""
        return Answer(response.status_code, text, choice["finish_reason"], None, routed)
    text, finish = "", None
    lines = [line[6:] for line in raw.decode().splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]", "a stream that got an answer ends with [DONE]"
    for line in lines[:-1]:
        chunk = orjson.loads(line)
        for choice in chunk["choices"]:
            text += choice["delta"].get("content") or ""
            finish = choice.get("finish_reason") or finish
    return Answer(response.status_code, text, finish, None, routed)


@dataclass(frozen=True)
class Case:
    """How one failure kind looks on the wire and what the router must make of it."""

    name: str
    behaviour: Behaviour
    kind: str  # the attempt outcome recorded in the audit log
    status: int | None  # the attempt status recorded in the audit log, from alpha (OpenAI)
    anthropic_status: int | None = None  # from bravo, where Anthropic's differs

    def expected(self, failing: str, stream: bool) -> tuple[str, str, int | None]:
        # A streamed answer cut short ends without its final event; a JSON body cut
        # short is merely unparsable.
        kind = (
            "stream_interrupted" if stream and isinstance(self.behaviour, StreamCut) else self.kind
        )
        status = (
            self.anthropic_status if failing == "bravo" and self.anthropic_status else self.status
        )
        return failing, kind, status


FALLBACK_CASES = [
    Case("rate_limited", RateLimited(retry_after=0.05), "rate_limited", 429),
    Case("server_error", ServerError(500), "server_error", 500),
    Case("unavailable", Unavailable(), "server_error", 503),
    Case("overloaded", Overloaded(), "overloaded", 503, anthropic_status=529),
    Case("connection_reset", ConnectionReset(), "connection", None),
    Case("slow_first_byte", SlowFirstByte(FIRST_BYTE_TIMEOUT_S * 5), "timeout", None),
    Case("malformed_json", MalformedJSON(), "malformed_response", 200),
    Case("malformed_sse", MalformedSSE(), "malformed_response", 200),
    Case("stream_cut", StreamCut(after_events=1), "malformed_response", 200),
    Case("wrong_content_type", WrongContentType(), "malformed_response", 200),
    Case("unauthorized", Unauthorized(), "auth", 401),
]
POSITIONS = ["first", "second"]


def _attempts(record: dict[str, Any]) -> list[tuple[str, str, int | None]]:
    return [(a["provider"], a["outcome"], a["status"]) for a in record["attempts"]]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("case", FALLBACK_CASES, ids=lambda c: c.name)
async def test_a_failing_first_provider_falls_back_to_the_second(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, case: Case, stream: bool
) -> None:
    fakes.alpha.script(case.behaviour)

    answer = await ask(client, "sandbox", stream)

    assert (answer.status, answer.text, answer.routed) == (200, ANSWERS["bravo"], "bravo")
    assert (len(fakes.alpha.received), len(fakes.bravo.received)) == (1, 1)
    record = sidecar.audit_events()[-1]
    assert record["outcome"] == "answered"
    assert _attempts(record) == [case.expected("alpha", stream), ("bravo", "ok", 200)]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("case", FALLBACK_CASES, ids=lambda c: c.name)
async def test_when_the_second_provider_fails_too_the_first_is_retried(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, case: Case, stream: bool
) -> None:
    fakes.alpha.script(Unavailable())
    fakes.bravo.script(case.behaviour)

    answer = await ask(client, "sandbox", stream)

    assert (answer.status, answer.text, answer.routed) == (200, ANSWERS["alpha"], "alpha")
    assert (len(fakes.alpha.received), len(fakes.bravo.received)) == (2, 1)
    record = sidecar.audit_events()[-1]
    assert record["outcome"] == "answered"
    assert _attempts(record) == [
        ("alpha", "server_error", 503),
        case.expected("bravo", stream),
        ("alpha", "ok", 200),
    ]


async def _misconfigured(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("policy_engine_provider_misconfigured{"):
            labels, value = line.rsplit(" ", 1)
            values[labels.split('provider="')[1].split('"')[0]] = float(value)
    return values


@pytest.mark.parametrize("position", POSITIONS)
async def test_a_401_marks_only_that_provider_misconfigured(
    client: httpx.AsyncClient, fakes: Fakes, position: str
) -> None:
    if position == "first":
        fakes.alpha.script(Unauthorized())
        failing = "alpha"
    else:
        fakes.alpha.script(Unavailable())
        fakes.bravo.script(Unauthorized())
        failing = "bravo"

    answer = await ask(client, "sandbox", stream=False)

    assert answer.status == 200
    assert await _misconfigured(client) == {failing: 1.0}


async def test_a_401_provider_is_not_retried_in_later_rounds(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes
) -> None:
    fakes.alpha.script(Unauthorized())
    fakes.bravo.script(Unavailable())

    answer = await ask(client, "sandbox", stream=False)

    assert (answer.status, answer.routed) == (200, "bravo")
    assert _attempts(sidecar.audit_events()[-1]) == [
        ("alpha", "auth", 401),
        ("bravo", "server_error", 503),
        ("bravo", "ok", 200),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("position", POSITIONS)
async def test_an_invalid_request_goes_back_to_the_client_without_fallback(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, position: str, stream: bool
) -> None:
    if position == "first":
        fakes.alpha.script(InvalidRequest())
        expected = [("alpha", "invalid_request", 400)]
    else:
        fakes.alpha.script(Unavailable())
        fakes.bravo.script(InvalidRequest())
        expected = [("alpha", "server_error", 503), ("bravo", "invalid_request", 400)]

    answer = await ask(client, "sandbox", stream)

    assert answer.status == 400
    assert answer.error is not None and answer.error["type"] == "invalid_request_error"
    assert len(fakes.alpha.received) == 1
    assert len(fakes.bravo.received) == (0 if position == "first" else 1)
    record = sidecar.audit_events()[-1]
    assert (record["outcome"], record["status"]) == ("provider_rejected", 400)
    assert _attempts(record) == expected


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_content_filter_goes_back_to_the_client_when_the_tenant_forbids_refusal_fallback(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, stream: bool
) -> None:
    fakes.alpha.script(ContentFilter())

    answer = await ask(client, NO_REFUSAL_FALLBACK, stream)

    assert answer.status == 400
    assert answer.error is not None and answer.error["code"] == "content_filter"
    assert (len(fakes.alpha.received), len(fakes.bravo.received)) == (1, 0)
    record = sidecar.audit_events()[-1]
    assert record["outcome"] == "provider_rejected"
    assert _attempts(record) == [("alpha", "content_filter", 400)]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_content_filter_falls_back_when_the_tenant_allows_refusal_fallback(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, stream: bool
) -> None:
    fakes.alpha.script(ContentFilter())

    answer = await ask(client, "sandbox", stream)

    assert (answer.status, answer.text, answer.routed) == (200, ANSWERS["bravo"], "bravo")
    record = sidecar.audit_events()[-1]
    assert _attempts(record) == [("alpha", "content_filter", 400), ("bravo", "ok", 200)]
    assert record["outcome"] == "answered"


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_anthropic_refusal_reaches_the_client_when_the_tenant_forbids_refusal_fallback(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, stream: bool
) -> None:
    fakes.alpha.script(Unavailable())
    fakes.bravo.script(ContentFilter())

    answer = await ask(client, NO_REFUSAL_FALLBACK, stream)

    assert (answer.status, answer.finish, answer.routed) == (200, "content_filter", "bravo")
    assert _attempts(sidecar.audit_events()[-1]) == [
        ("alpha", "server_error", 503),
        ("bravo", "ok", 200),
    ]


async def test_a_rate_limited_provider_is_retried_no_sooner_than_its_retry_after(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes
) -> None:
    wait_s = 0.4
    fakes.alpha.script(Unavailable(), Unavailable())
    fakes.bravo.script(RateLimited(retry_after=wait_s))

    started = time.perf_counter()
    answer = await ask(client, "sandbox", stream=False)

    assert time.perf_counter() - started >= wait_s
    assert (answer.status, answer.routed) == (200, "bravo")
    assert _attempts(sidecar.audit_events()[-1]) == [
        ("alpha", "server_error", 503),
        ("bravo", "rate_limited", 429),
        ("alpha", "server_error", 503),
        ("bravo", "ok", 200),
    ]


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes
) -> None:
    deadline_s = sidecar.settings.routing.deadline_s
    fakes.alpha.script(Unavailable(), Unavailable())
    fakes.bravo.script(RateLimited(retry_after=deadline_s * 3))

    started = time.perf_counter()
    answer = await ask(client, "sandbox", stream=False)

    assert time.perf_counter() - started < deadline_s
    assert answer.status == 503
    assert len(fakes.bravo.received) == 1
    assert [a[0] for a in _attempts(sidecar.audit_events()[-1])] == ["alpha", "bravo", "alpha"]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_when_every_attempt_fails_the_client_gets_a_503_in_its_protocol_shape(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, stream: bool
) -> None:
    fakes.alpha.script(ServerError(500), ServerError(500))
    fakes.bravo.script(Overloaded(), Overloaded())

    answer = await ask(client, "sandbox", stream)

    assert answer.status == 503
    assert answer.error is not None and answer.error["code"] == "providers_unavailable"
    assert "alpha: server_error" in answer.error["message"]
    record = sidecar.audit_events()[-1]
    assert (record["outcome"], record["status"], record["provider"]) == ("all_failed", 503, None)
    assert [a[:2] for a in _attempts(record)] == [
        ("alpha", "server_error"),
        ("bravo", "overloaded"),
        ("alpha", "server_error"),
        ("bravo", "overloaded"),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_anthropic_refusal_falls_back_when_the_tenant_allows_refusal_fallback(
    client: httpx.AsyncClient, sidecar: RunningSidecar, fakes: Fakes, stream: bool
) -> None:
    fakes.alpha.script(Unavailable())
    fakes.bravo.script(ContentFilter())

    answer = await ask(client, "sandbox", stream)

    assert (answer.status, answer.text, answer.routed) == (200, ANSWERS["alpha"], "alpha")
    assert _attempts(sidecar.audit_events()[-1]) == [
        ("alpha", "server_error", 503),
        ("bravo", "content_filter", 200),
        ("alpha", "ok", 200),
    ]
