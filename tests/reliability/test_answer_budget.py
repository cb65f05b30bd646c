"""The answer budget end to end: an attempt that would pass it falls back, audited.

Large answers at once must not take the sidecar past its memory limit; the budget
(`routing.max_buffered_answer_bytes`) turns the attempt that would pass it into an
overloaded provider failure: the request falls back, or gets a 503 in its protocol's
shape, and either way its record names the refused attempt. A metric counts refusals.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.fakes import FakeProvider, Ok, Unavailable
from tests.fakes._hostile import Answer, HostileProvider, Wait, json_answer, raw, valid_plain
from tests.reliability._support import Answer as ClientAnswer
from tests.reliability._support import ask
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

EU = {"residency": "eu"}
LARGE = 600 * 1024


@dataclass
class World:
    sidecar: RunningSidecar
    hostile: HostileProvider
    good: FakeProvider
    http: httpx.AsyncClient


@pytest.fixture
async def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[World]:
    async with (
        HostileProvider("openai") as hostile,
        FakeProvider("openai", name="good", reply="small answer") as good,
    ):
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec("hostile", hostile, attributes=EU, priority=1),  # type: ignore[arg-type]
                ProviderSpec("good", good, attributes=EU, priority=2),
            ],
            routing={
                "attempts_per_provider": 1,
                "max_answer_bytes": LARGE + LARGE // 2,
                "max_buffered_answer_bytes": LARGE + LARGE // 2,
            },
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as http:
                yield World(running, hostile, good, http)
        finally:
            await running.stop()


def held_answer(release: asyncio.Event) -> Answer:
    """A valid answer of LARGE text, its first LARGE bytes sent, the rest held back."""
    body = json.dumps(valid_plain("openai", Ok(text="a" * LARGE))).encode()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
    head += b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    return raw(head, body[:LARGE], Wait(release), body[LARGE:])


async def holding(world: World, release: asyncio.Event) -> asyncio.Task[ClientAnswer]:
    """A first request whose answer holds LARGE bytes of the budget until released."""
    world.hostile.script(held_answer(release))
    first = asyncio.create_task(ask(world.http, stream=False))
    budget = world.sidecar.sidecar.transport.budget
    for _ in range(1000):  # polling a condition, with a bound
        if budget.held >= LARGE:
            return first
        await asyncio.sleep(0.01)
    raise AssertionError("the first answer never filled the budget")


def metric(text: str, name: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.split()[1])


async def test_an_answer_past_the_budget_falls_back_and_the_refusal_is_counted(
    world: World,
) -> None:
    release = asyncio.Event()
    first = await holding(world, release)
    world.hostile.script(json_answer(valid_plain("openai", Ok(text="b" * LARGE))))

    second = await ask(world.http, stream=False)
    release.set()
    answered_first = await first

    assert (second.status, second.headers["x-routed-provider"]) == (200, "good")
    assert (answered_first.status, answered_first.headers["x-routed-provider"]) == (200, "hostile")
    records = {e["request_id"]: e for e in world.sidecar.audit_events()}
    attempts = records[second.headers["x-request-id"]]["attempts"]
    assert [(a["provider"], a["outcome"], a["status"]) for a in attempts] == [
        ("hostile", "overloaded", 200),
        ("good", "ok", 200),
    ]
    text = (await world.http.get("/metrics")).text
    assert metric(text, "policy_engine_answer_buffer_refusals_total") == 1
    assert metric(text, "policy_engine_answer_buffer_bytes") == 0, "every byte given back"


async def test_with_no_provider_left_the_refusal_is_a_503_in_the_protocols_shape(
    world: World,
) -> None:
    release = asyncio.Event()
    first = await holding(world, release)
    world.hostile.script(json_answer(valid_plain("openai", Ok(text="b" * LARGE))))
    world.good.script(Unavailable())

    second = await world.http.post(
        "/v1/messages",
        json={
            "model": "default",
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "Hi"}],
        },
        headers={"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"},
    )
    release.set()
    await first

    assert second.status_code == 503
    assert second.json()["type"] == "error" and second.json()["error"]["type"] == "api_error"
    record = next(
        e for e in world.sidecar.audit_events() if e["request_id"] == second.headers["x-request-id"]
    )
    assert record["outcome"] == "all_failed"
    assert record["attempts"][0]["outcome"] == "overloaded"
