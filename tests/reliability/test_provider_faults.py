"""Provider faults the fallback matrix does not cover, end to end through the real sidecar.

Oversized answers, 429 storms with Retry-After across every candidate, and a
flapping provider whose circuit opens and then closes through a half-open probe;
streamed and not. After each, the five invariants hold (see `_support.Invariants`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.fakes import FakeProvider, Ok, Oversized, RateLimited, Unavailable
from tests.reliability._support import EMAIL, Invariants, ask
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

EU = {"residency": "eu"}
US = {"residency": "us"}
# The transport's fixed answer limit is 32 MiB; one byte more must be refused.
OVERSIZED = Oversized(32 * 1024 * 1024 + 1)
DEADLINE_S = 2.0
CIRCUIT_OPEN_S = 1.0  # long enough that the third request surely finds it still open


@dataclass
class World:
    alpha: FakeProvider
    bravo: FakeProvider
    outsider: FakeProvider
    sidecar: RunningSidecar
    http: httpx.AsyncClient
    invariants: Invariants


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


@pytest.fixture
async def world(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: list[dict[str, Any]]
) -> AsyncIterator[World]:
    async with (
        FakeProvider("openai", name="alpha", reply=f"alpha wrote to {EMAIL}") as alpha,
        FakeProvider("anthropic", name="bravo", reply=f"bravo wrote to {EMAIL}") as bravo,
        FakeProvider("openai", name="outsider") as outsider,
    ):
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec("alpha", alpha, attributes=EU, priority=1),
                ProviderSpec("bravo", bravo, attributes=EU, priority=2),
                ProviderSpec("outsider", outsider, attributes=US, priority=0),
            ],
            routing={
                "deadline_s": DEADLINE_S,
                "attempts_per_provider": 2,
                "circuit_failure_threshold": 2,
                "circuit_open_s": CIRCUIT_OPEN_S,
            },
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                invariants = Invariants(running, [alpha, bravo], logs, [outsider])
                yield World(alpha, bravo, outsider, running, http, invariants)
        finally:
            await running.stop()


def attempts(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(a["provider"], a["outcome"]) for a in record["attempts"]]


STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])


async def test_an_oversized_answer_is_refused_and_the_next_provider_answers(
    world: World,
) -> None:
    world.alpha.script(OVERSIZED)

    answer = await ask(world.http, stream=False)

    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "bravo")
    assert EMAIL.encode() in answer.body, "the client sees its own value restored"
    record = world.sidecar.audit_events()[-1]
    assert attempts(record) == [("alpha", "malformed_response"), ("bravo", "ok")]
    world.invariants.check(requests_sent=1)


async def test_an_oversized_stream_is_cut_at_the_limit_with_the_protocols_error_event(
    world: World,
) -> None:
    # The first content event commits the stream to alpha, so there is no fallback
    # once the limit is passed: the client gets an error event instead of [DONE].
    world.alpha.script(OVERSIZED)

    answer = await ask(world.http, stream=True)

    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "alpha")
    assert answer.stream_failed and b"[DONE]" not in answer.body
    assert len(answer.body) < 32 * 1024 * 1024
    record = world.sidecar.audit_events()[-1]
    assert (record["outcome"], attempts(record)) == (
        "stream_failed",
        [("alpha", "malformed_response")],
    )
    assert world.bravo.received == []
    world.invariants.check(requests_sent=1)


async def test_oversized_answers_from_every_provider_end_in_a_503(world: World) -> None:
    world.alpha.always(OVERSIZED)
    world.bravo.always(OVERSIZED)

    answer = await ask(world.http, stream=False)

    assert answer.status == 503
    assert answer.error is not None and answer.error["code"] == "providers_unavailable"
    assert world.sidecar.audit_events()[-1]["outcome"] == "all_failed"
    world.invariants.check(requests_sent=1)


@STREAM
async def test_a_429_storm_is_ridden_out_by_honouring_retry_after_within_the_deadline(
    world: World, stream: bool
) -> None:
    world.alpha.script(RateLimited(retry_after=0.2), Ok())
    world.bravo.script(RateLimited(retry_after=0.2))
    started = time.monotonic()

    answer = await ask(world.http, stream)

    elapsed = time.monotonic() - started
    assert (answer.status, answer.headers["x-routed-provider"]) == (200, "alpha")
    assert 0.2 <= elapsed < DEADLINE_S
    record = world.sidecar.audit_events()[-1]
    assert attempts(record) == [
        ("alpha", "rate_limited"),
        ("bravo", "rate_limited"),
        ("alpha", "ok"),
    ]
    world.invariants.check(requests_sent=1)


@STREAM
async def test_a_retry_after_beyond_the_deadline_fails_fast_instead_of_waiting(
    world: World, stream: bool
) -> None:
    world.alpha.always(RateLimited(retry_after=60))
    world.bravo.always(RateLimited(retry_after=60))
    started = time.monotonic()

    answer = await ask(world.http, stream)

    assert time.monotonic() - started < DEADLINE_S
    assert answer.status == 503
    assert answer.error is not None and answer.error["code"] == "providers_unavailable"
    record = world.sidecar.audit_events()[-1]
    assert attempts(record) == [("alpha", "rate_limited"), ("bravo", "rate_limited")]
    world.invariants.check(requests_sent=1)


async def wait_for_state(world: World, provider: str, state: str) -> None:
    breaker = world.sidecar.sidecar.router.health[provider].breaker
    deadline = time.monotonic() + CIRCUIT_OPEN_S * 20
    while breaker.state.value != state:
        assert time.monotonic() < deadline, f"{provider} never became {state}"
        await asyncio.sleep(0.01)  # polling a condition with a bound, not a guess


@STREAM
async def test_a_flapping_provider_opens_its_circuit_then_a_half_open_probe_closes_it(
    world: World, stream: bool
) -> None:
    world.alpha.script(Unavailable(), Unavailable())
    for _ in range(2):
        answer = await ask(world.http, stream)
        assert (answer.status, answer.headers["x-routed-provider"]) == (200, "bravo")
    breaker = world.sidecar.sidecar.router.health["alpha"].breaker
    assert breaker.state.value == "open"

    skipped = await ask(world.http, stream)
    assert skipped.headers["x-routed-provider"] == "bravo"
    assert len(world.alpha.received) == 2, "an open circuit sends nothing"

    await wait_for_state(world, "alpha", "half_open")
    probe = await ask(world.http, stream)

    assert (probe.status, probe.headers["x-routed-provider"]) == (200, "alpha")
    assert breaker.state.value == "closed"
    records = world.sidecar.audit_events()
    assert [attempts(r) for r in records] == [
        [("alpha", "server_error"), ("bravo", "ok")],
        [("alpha", "server_error"), ("bravo", "ok")],
        [("bravo", "ok")],
        [("alpha", "ok")],
    ]
    world.invariants.check(requests_sent=4)
