"""THE leak test: synthetic PII and secrets through every path, then grep everything.

Each round sends the same prompt, full of PII and secret-looking values, through
success, fallback, provider errors that echo the request and our key back, streams
that fail after their start, unknown tenants, policy denials, bad input and bad
credentials, over both inbound protocols and the embeddings route. Afterwards every
captured log line, the /metrics body, every byte of the audit log and every error body
the client got are searched for every value: zero hits. What reached the providers is searched too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from structlog.testing import capture_logs

from tests.fakes import FakeProvider, ServerError, StreamCut, Unavailable
from tests.reliability._process import SidecarProcess
from tests.reliability._support import ask, audit_bytes, hits
from tests.security._support import (
    CALLER_TOKEN,
    KEY_ENV,
    NEEDLES,
    PII,
    PROMPT,
    PROVIDER_KEY,
    KeyedSpec,
    UrlSpec,
    echoing_provider,
)
from tests.sidecar import API_KEY, ProviderSpec, RunningSidecar, build_settings, start_sidecar

ROUNDS = 3
EU = {"residency": "eu"}
AUTH = {"Authorization": f"Bearer {CALLER_TOKEN}"}


@dataclass
class Exchange:
    """Everything the client saw of one request."""

    path: str
    status: int
    error_body: bytes  # empty when the request was answered

    @property
    def is_error(self) -> bool:
        return bool(self.error_body)


@dataclass
class Run:
    sidecar: RunningSidecar
    http: httpx.AsyncClient
    alpha: FakeProvider
    bravo: FakeProvider
    exchanges: list[Exchange] = field(default_factory=list)

    async def send(
        self,
        path: str,
        body: Any,
        headers: dict[str, str] | None = None,
        route: str = "/v1/chat/completions",
    ) -> Exchange:
        sent = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu", **AUTH, **(headers or {})}
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        async with self.http.stream("POST", route, content=content, headers=sent) as response:
            raw = await response.aread()
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            # The answer's own text holds the client's values, restored; only an
            # error event is an error body.
            errors = b"\n".join(line for line in raw.splitlines() if b'"error"' in line)
        else:
            errors = raw if response.status_code != 200 else b""
        exchange = Exchange(path, response.status_code, errors)
        self.exchanges.append(exchange)
        return exchange


def chat(stream: bool = False, model: str = "default", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "system", "content": PROMPT}, {"role": "user", "content": PROMPT}],
        "stream": stream,
        **extra,
    }


def messages(stream: bool = False, model: str = "default") -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": 50,
        "system": PROMPT,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": stream,
    }


Path_ = Callable[[Run], Awaitable[Exchange]]


async def success(run: Run) -> Exchange:
    return await run.send("success", chat(user=PII["email"]))


async def success_stream(run: Run) -> Exchange:
    return await run.send("success stream", chat(stream=True))


async def fallback(run: Run) -> Exchange:
    run.alpha.script(Unavailable())
    return await run.send("fallback", chat())


async def fallback_stream(run: Run) -> Exchange:
    run.alpha.script(ServerError(500))
    return await run.send("fallback stream", chat(stream=True))


async def provider_rejects(run: Run) -> Exchange:
    return await run.send("provider 400 echoing body and key", chat(model="echo"))


async def provider_rejects_stream(run: Run) -> Exchange:
    return await run.send("provider 400 echoing, streamed", chat(stream=True, model="echo"))


async def provider_fails(run: Run) -> Exchange:
    return await run.send("provider 500 echoing body and key", chat(model="echo500"))


async def stream_cut(run: Run) -> Exchange:
    run.alpha.script(StreamCut(after_events=2))
    return await run.send("stream cut after its start", chat(stream=True))


async def unknown_tenant(run: Run) -> Exchange:
    return await run.send("unknown tenant", chat(), {"X-Tenant-ID": "nobody"})


async def pii_as_tenant(run: Run) -> Exchange:
    return await run.send("PII in the tenant header", chat(), {"X-Tenant-ID": PII["email"]})


async def policy_denial(run: Run) -> Exchange:
    return await run.send("policy denial", chat(), {"X-Privacy-Tags": "phi"})


async def pii_in_tags(run: Run) -> Exchange:
    return await run.send("PII in the tags header", chat(), {"X-Privacy-Tags": PII["ssn"]})


async def wrong_type(run: Run) -> Exchange:
    body = {"model": "default", "messages": [{"role": PII["email"], "content": PROMPT}]}
    return await run.send("a PII value where a role belongs", body)


async def pii_as_model(run: Run) -> Exchange:
    return await run.send("a PII value as the model", chat(model=PII["card"]))


async def broken_json(run: Run) -> Exchange:
    return await run.send("broken JSON", orjson.dumps(chat())[:-7])


async def bad_credentials(run: Run) -> Exchange:
    return await run.send("bad credentials", chat(), {"Authorization": f"Bearer {PII['sk_key']}"})


async def anthropic_success(run: Run) -> Exchange:
    return await run.send("anthropic success", messages(), route="/v1/messages")


async def anthropic_stream(run: Run) -> Exchange:
    return await run.send("anthropic stream", messages(stream=True), route="/v1/messages")


async def anthropic_rejected(run: Run) -> Exchange:
    return await run.send("anthropic, provider 400", messages(model="echo"), route="/v1/messages")


def embeddings(model: str = "embed") -> dict[str, Any]:
    return {"model": model, "input": [PROMPT, PROMPT], "user": PII["email"]}


async def embeddings_success(run: Run) -> Exchange:
    return await run.send("embeddings", embeddings(), route="/v1/embeddings")


async def embeddings_provider_down(run: Run) -> Exchange:
    run.alpha.script_embeddings(Unavailable())
    return await run.send("embeddings, provider down", embeddings(), route="/v1/embeddings")


async def embeddings_rejected(run: Run) -> Exchange:
    body = embeddings("embed-echo")
    return await run.send("embeddings, provider 400 echoing", body, route="/v1/embeddings")


async def embeddings_failed(run: Run) -> Exchange:
    body = embeddings("embed-echo500")
    return await run.send("embeddings, provider 500 echoing", body, route="/v1/embeddings")


async def embeddings_denied(run: Run) -> Exchange:
    headers = {"X-Privacy-Tags": "phi"}
    return await run.send("embeddings denied", embeddings(), headers, route="/v1/embeddings")


async def embeddings_pii_as_model(run: Run) -> Exchange:
    body = embeddings(PII["card"])
    return await run.send("embeddings, PII as the model", body, route="/v1/embeddings")


async def embeddings_pii_in_a_bad_field(run: Run) -> Exchange:
    body = {"model": "embed", "input": [PROMPT, 7], PII["email"]: PROMPT}
    return await run.send("embeddings, PII in a bad field", body, route="/v1/embeddings")


PATHS: list[Path_] = [
    success,
    success_stream,
    fallback,
    fallback_stream,
    provider_rejects,
    provider_rejects_stream,
    provider_fails,
    stream_cut,
    unknown_tenant,
    pii_as_tenant,
    policy_denial,
    pii_in_tags,
    wrong_type,
    pii_as_model,
    broken_json,
    bad_credentials,
    anthropic_success,
    anthropic_stream,
    anthropic_rejected,
    embeddings_success,
    embeddings_provider_down,
    embeddings_rejected,
    embeddings_failed,
    embeddings_denied,
    embeddings_pii_as_model,
    embeddings_pii_in_a_bad_field,
]


@pytest.fixture
async def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Run]:
    monkeypatch.setenv(KEY_ENV, PROVIDER_KEY)
    monkeypatch.setenv("LEAK_TEST_CALLER_TOKEN", CALLER_TOKEN)
    async with (
        FakeProvider("openai", name="alpha", api_key=PROVIDER_KEY) as alpha,
        FakeProvider("anthropic", name="bravo", api_key=PROVIDER_KEY) as bravo,
        echoing_provider() as echo_url,
    ):
        settings = build_settings(
            tmp_path,
            [
                KeyedSpec(
                    "alpha",
                    alpha,
                    attributes=EU,
                    priority=1,
                    models={"default": "test-model", "embed": "e-small"},
                ),
                KeyedSpec("bravo", bravo, attributes=EU, priority=2),
                UrlSpec(
                    "echo",
                    echo_url,
                    {
                        "default": "echo-default",
                        "echo": "echo-400",
                        "echo500": "echo-500",
                        "embed-echo": "embed-echo-400",
                        "embed-echo500": "embed-echo-500",
                    },
                ),
            ],
            embeddings={"embed": {}, "embed-echo": {}, "embed-echo500": {}},
            server={"auth": {"tokens": [{"name": "app", "token_env": "LEAK_TEST_CALLER_TOKEN"}]}},
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                yield Run(running, http, alpha, bravo)
        finally:
            await running.stop()


async def test_no_pii_or_secret_reaches_logs_metrics_audit_errors_or_providers(
    run: Run,
) -> None:
    with capture_logs() as logs:
        for _ in range(ROUNDS):
            for path in PATHS:
                await path(run)
        metrics = (await run.http.get("/metrics")).content
    await run.sidecar.stop()

    assert {e.path for e in run.exchanges if e.is_error} >= {
        "provider 400 echoing body and key",
        "stream cut after its start",
        "policy denial",
        "bad credentials",
        "embeddings, provider 400 echoing",
        "embeddings denied",
        "embeddings, PII as the model",
    }, "every failure path really failed"
    assert all(e.status < 500 or e.status == 503 for e in run.exchanges)
    haystacks = [
        *((f"log line {line.get('event')}", orjson.dumps(line, default=repr)) for line in logs),
        ("metrics", metrics),
        ("audit log", audit_bytes(run.sidecar.settings.audit.dir)),
        *((f"error body ({e.path})", e.error_body) for e in run.exchanges),
        *(
            (f"{fake.name} request", received.body)
            for fake in (run.alpha, run.bravo)
            for received in fake.received
        ),
    ]
    logged = [line for line in logs if line.get("event") == "request"]
    assert len(logged) == len(run.exchanges), "the log capture saw every request"
    leaks = hits(NEEDLES, haystacks)
    assert leaks == [], "\n".join(leaks)
    assert len(run.sidecar.audit_events()) == len(run.exchanges)
    run.sidecar.verify_audit()


async def test_the_served_sidecar_logs_one_request_line_per_request_without_pii(
    tmp_path: Path,
) -> None:
    """The running `serve` process, whose request line is written by its own logging
    setup rather than through structlog: one line per answer on standard output, none
    of the prompt's values in the whole output."""
    async with FakeProvider("openai", name="alpha") as alpha:
        settings = build_settings(
            tmp_path, [ProviderSpec("alpha", alpha, attributes={"residency": "eu"})]
        )
        sidecar = SidecarProcess(settings, tmp_path, {"TEST_PROVIDER_KEY": API_KEY})
        await sidecar.start()
        try:
            async with httpx.AsyncClient(base_url=sidecar.url, timeout=30) as http:
                answers = [await ask(http, stream=n % 2 == 1, prompt=PROMPT) for n in range(4)]
        finally:
            sidecar.stop()
    assert [answer.status for answer in answers] == [200] * 4
    output = sidecar.log.read_bytes()
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith(b"{")]
    logged = {line["request_id"]: line for line in lines if line["event"] == "request"}
    assert set(logged) == {answer.headers["x-request-id"] for answer in answers}
    assert {(line["level"], line["outcome"], line["provider"]) for line in logged.values()} == {
        ("info", "answered", "alpha")
    }
    assert all(line["redactions"] for line in logged.values()), "the prompt's PII was counted"
    assert hits(NEEDLES, [("standard output", output)]) == []
