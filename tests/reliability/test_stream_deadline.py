"""A stream ends at `routing.deadline_s`, however the provider keeps it alive.

The provider commits the stream with a first text event, then keeps the connection
busy: SSE comments every fraction of a second (each resets a per-read timeout, never
the deadline), or text that never ends. At the deadline the client gets its protocol's
error event and the record says the attempt timed out. The test has no timed
assertion: were the stream not ended, the client's read would never finish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.fakes import FakeProvider, Ok
from tests.fakes._hostile import HostileProvider, endless_sse, sse_event, valid_stream
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

DEADLINE_S = 1.0
EU = {"residency": "eu"}
HEADERS = {"X-Tenant-ID": "sandbox", "X-Data-Residency": "eu"}
ROUTES = {
    "openai": ("/v1/chat/completions", {}),
    "anthropic": ("/v1/messages", {"max_tokens": 64}),
}


@pytest.fixture
async def sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningSidecar, HostileProvider, FakeProvider]]:
    async with (
        HostileProvider("openai") as hostile,
        FakeProvider("openai", name="good") as good,
    ):
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec("hostile", hostile, attributes=EU, priority=1),  # type: ignore[arg-type]
                ProviderSpec("good", good, attributes=EU, priority=2),
            ],
            # Each read may take up to 5 s: only the deadline can end these streams.
            routing={"deadline_s": DEADLINE_S, "first_byte_timeout_s": 5},
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            yield running, hostile, good
        finally:
            await running.stop()


def opening() -> list[bytes]:
    """The role chunk and a first text delta: enough to commit the stream."""
    events = valid_stream("openai", Ok(text="Hi"))
    return [head + b"data: " + orjson.dumps(data) + b"\n\n" for head, data in events[:2]]


KEEPERS = {
    "sse-comments": b": keep-alive\n\n",
    "endless-text": sse_event(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": "more "}, "finish_reason": None}],
        }
    ),
}


@pytest.mark.parametrize("keeper", list(KEEPERS))
@pytest.mark.parametrize("client", list(ROUTES))
async def test_a_stream_kept_alive_past_the_deadline_ends_with_the_protocols_error_event(
    sidecar: tuple[RunningSidecar, HostileProvider, FakeProvider], client: str, keeper: str
) -> None:
    running, hostile, good = sidecar
    hostile.always(endless_sse(KEEPERS[keeper], every_s=0.1, first=opening()))
    path, extra = ROUTES[client]
    body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}], "stream": True}

    async with (
        httpx.AsyncClient(base_url=running.url, timeout=30) as http,
        http.stream("POST", path, json=body | extra, headers=HEADERS) as response,
    ):
        raw = await response.aread()

    assert response.headers["x-routed-provider"] == "hostile"
    if client == "openai":
        last = raw.strip().split(b"\n\n")[-1]
        assert orjson.loads(last.removeprefix(b"data: "))["error"]["code"] == "api_error"
        assert b"[DONE]" not in raw
    else:
        assert b"event: error\n" in raw and b"message_stop" not in raw
    await running.stop()
    record = running.audit_events()[-1]
    assert record["outcome"] == "stream_failed"
    assert [(a["provider"], a["outcome"]) for a in record["attempts"]] == [("hostile", "timeout")]
    assert good.received == [], "a committed stream does not fall back"
