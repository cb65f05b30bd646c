"""A stream that fails after its first byte reached the client ends with the protocol's
error event, never a clean finish, and leaves exactly one audit record saying so."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes import Behaviour, ConnectionReset, FakeProvider, StallStream, StreamCut
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

FIRST_BYTE_TIMEOUT_S = 0.5
# Long enough for the first content events to be relayed, well short of the whole answer.
REPLY = "one two three four five six seven eight nine ten " * 4
HEADERS = {"X-Tenant-ID": "sandbox"}
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


@pytest.fixture
async def upstream() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="upstream", reply=REPLY) as fake:
        yield fake


@pytest.fixture
async def standby() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("gemini", name="standby", reply="from standby") as fake:
        yield fake


async def _sidecar(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upstream: FakeProvider,
    standby: FakeProvider,
    first_byte_timeout_s: float,
) -> AsyncIterator[RunningSidecar]:
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("upstream", upstream, priority=1),
            ProviderSpec("standby", standby, priority=2),
        ],
        routing={
            "connect_timeout_s": first_byte_timeout_s,
            "first_byte_timeout_s": first_byte_timeout_s,
        },
    )
    running = await start_sidecar(settings, monkeypatch)
    yield running
    await running.stop()


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: FakeProvider, standby: FakeProvider
) -> AsyncIterator[RunningSidecar]:
    async for running in _sidecar(tmp_path, monkeypatch, upstream, standby, FIRST_BYTE_TIMEOUT_S):
        yield running


@pytest.fixture
async def patient_sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream: FakeProvider, standby: FakeProvider
) -> AsyncIterator[RunningSidecar]:
    """Waits for a stalled provider longer than any test runs: only the client may give up."""
    async for running in _sidecar(tmp_path, monkeypatch, upstream, standby, 60):
        yield running


@dataclass
class Event:
    name: str | None
    data: str

    def json(self) -> Any:
        return orjson.loads(self.data)


def parse_sse(raw: bytes) -> list[Event]:
    events = []
    for block in raw.decode().split("\n\n"):
        name, data = None, []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        if data:
            events.append(Event(name, "\n".join(data)))
    return events


def request_body(protocol: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "default",
        "messages": [{"role": "user", "content": "Count to ten"}],
        "stream": True,
    }
    if protocol == "anthropic":
        body["max_tokens"] = 256
    return body


async def stream(sidecar: RunningSidecar, protocol: str) -> tuple[int, list[Event]]:
    async with (
        httpx.AsyncClient(base_url=sidecar.url, timeout=10) as http,
        http.stream("POST", PATHS[protocol], json=request_body(protocol), headers=HEADERS) as reply,
    ):
        return reply.status_code, parse_sse(await reply.aread())


def openai_text(events: list[Event]) -> str:
    chunks = [e.json() for e in events if e.data != "[DONE]" and "choices" in e.json()]
    return "".join(c["delta"].get("content") or "" for chunk in chunks for c in chunk["choices"])


def anthropic_text(events: list[Event]) -> str:
    deltas = [e.json()["delta"] for e in events if e.name == "content_block_delta"]
    return "".join(d.get("text", "") for d in deltas)


async def test_a_short_openai_stream_ends_once_cleanly_and_is_audited_as_answered(
    sidecar: RunningSidecar,
) -> None:
    status, events = await stream(sidecar, "openai")

    assert status == 200
    assert [e.data for e in events].count("[DONE]") == 1
    assert events[-1].data == "[DONE]"
    assert not any("error" in e.json() for e in events[:-1])
    assert openai_text(events) == REPLY
    assert sidecar.audit_events()[-1]["outcome"] == "answered"


async def test_a_short_anthropic_stream_ends_once_cleanly_and_is_audited_as_answered(
    sidecar: RunningSidecar,
) -> None:
    status, events = await stream(sidecar, "anthropic")

    assert status == 200
    assert [e.name for e in events].count("message_stop") == 1
    assert events[-1].name == "message_stop"
    assert "error" not in [e.name for e in events]
    assert anthropic_text(events) == REPLY
    assert sidecar.audit_events()[-1]["outcome"] == "answered"


MID_STREAM_FAILURES: dict[str, tuple[Behaviour, str]] = {
    "stall": (StallStream(after_events=2, seconds=FIRST_BYTE_TIMEOUT_S * 10), "timeout"),
    "cut": (StreamCut(after_events=2), "stream_interrupted"),
    "reset": (ConnectionReset(after_bytes=700), "stream_interrupted"),
}


@pytest.mark.parametrize("failure", MID_STREAM_FAILURES)
async def test_an_openai_stream_failing_after_the_first_byte_ends_with_an_error_and_no_done(
    sidecar: RunningSidecar, upstream: FakeProvider, standby: FakeProvider, failure: str
) -> None:
    behaviour, kind = MID_STREAM_FAILURES[failure]
    upstream.script(behaviour)

    status, events = await stream(sidecar, "openai")

    assert status == 200
    assert openai_text(events), "content reached the client before the failure"
    assert "[DONE]" not in [e.data for e in events]
    assert events[-1].json()["error"]["type"] == "api_error"
    assert not any(c.get("finish_reason") for e in events[:-1] for c in e.json().get("choices", []))
    assert standby.received == [], "a committed stream is never replayed elsewhere"
    record = sidecar.audit_events()[-1]
    assert (record["outcome"], record["provider"]) == ("stream_failed", "upstream")
    assert [(a["provider"], a["outcome"]) for a in record["attempts"]] == [("upstream", kind)]


@pytest.mark.parametrize("failure", MID_STREAM_FAILURES)
async def test_an_anthropic_stream_failing_after_the_first_byte_ends_with_an_error_event(
    sidecar: RunningSidecar, upstream: FakeProvider, failure: str
) -> None:
    behaviour, kind = MID_STREAM_FAILURES[failure]
    upstream.script(behaviour)

    status, events = await stream(sidecar, "anthropic")

    assert status == 200
    assert anthropic_text(events), "content reached the client before the failure"
    names = [e.name for e in events]
    assert names[-1] == "error"
    assert "message_stop" not in names and "message_delta" not in names
    assert events[-1].json()["error"]["type"] == "api_error"
    record = sidecar.audit_events()[-1]
    assert record["outcome"] == "stream_failed"
    assert [a["outcome"] for a in record["attempts"]] == [kind]


async def test_failed_streams_leave_one_record_each_and_a_log_that_verifies(
    sidecar: RunningSidecar, upstream: FakeProvider
) -> None:
    upstream.script(StreamCut(after_events=2), StallStream(2, FIRST_BYTE_TIMEOUT_S * 10))

    for protocol in ("openai", "anthropic", "openai"):
        await stream(sidecar, protocol)

    outcomes = [e["outcome"] for e in sidecar.audit_events()]
    assert outcomes == ["stream_failed", "stream_failed", "answered"]
    await sidecar.stop()
    sidecar.verify_audit()


async def _wait_for_records(sidecar: RunningSidecar, count: int) -> list[dict[str, Any]]:
    """The disconnect is noticed asynchronously; poll the durable log, bounded."""
    for _ in range(200):
        events = sidecar.audit_events()
        if len(events) >= count:
            return events
        await asyncio.sleep(0.01)
    return sidecar.audit_events()


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
async def test_a_client_that_disconnects_mid_stream_leaves_a_client_disconnected_record(
    patient_sidecar: RunningSidecar, upstream: FakeProvider, protocol: str
) -> None:
    upstream.script(StallStream(after_events=2, seconds=30))

    async with (
        httpx.AsyncClient(base_url=patient_sidecar.url, timeout=10) as http,
        http.stream("POST", PATHS[protocol], json=request_body(protocol), headers=HEADERS) as reply,
    ):
        first = await anext(reply.aiter_raw())
    assert first, "the stream had started before the client left"

    events = await _wait_for_records(patient_sidecar, 1)
    assert [(e["outcome"], e["status"]) for e in events] == [("client_disconnected", 499)]
    await patient_sidecar.stop()
    patient_sidecar.verify_audit()
