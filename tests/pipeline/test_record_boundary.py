"""Nothing a provider reports can cost a request its outcome record.

A hostile fake provider (the real fake, with its token counts replaced byte for byte in
the wire format) answers with counts that no record, metric or client answer can take as
they are: negative, beyond 2**53 - 1, 1e300, fractional, strings, null, missing, other
JSON types; streamed and not, in the OpenAI and Anthropic formats. Every request still
gets its outcome record, paired with its intent record, and never a 500: the adapters
take a count that is not a whole number from 0 to 2**31 - 1 for a malformed answer (a
provider failure, recorded as such), and the record boundary behind them answers 0 and
records as invalid any count that still could not be recorded; the log verifies and
/metrics renders.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from adapters import Usage
from policy_engine.audit import AuditLog, RecordKind
from policy_engine.pipeline import RequestOutcome
from tests.fakes import FakeProvider, Ok, Protocol, StallStream
from tests.fakes._dialect import Reply
from tests.reliability._support import Answer, answers_without_outcome, ask, records
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

# Token counts the fake would send, found and replaced in its bytes.
COUNTS = (424242, 434343)
MISSING = None
# Values the adapters refuse: the answer is malformed, a provider failure.
MALFORMED = {
    "negative": b"-5",
    "beyond 2**31 - 1": b"2147483648",
    "beyond 2**53 - 1": b"9007199254740993",
    "1e300": b"1e300",
    "fraction": b"2.5",
    "numeric string": b'"12"',
    "true": b"true",
    "word": b'"abc"',
    "list": b"[1]",
    "object": b"{}",
}
# Values the adapters read as no count: 0.
READ_AS_0: dict[str, bytes | None] = {"null": b"null", "missing": MISSING}
EVERY_VALUE = {**MALFORMED, **READ_AS_0}
# Far longer than the sidecar needs to read and forward what came before a stall.
COMMITTED_S = 1.0


def hostile(data: bytes, value: bytes | None) -> bytes:
    """`data` with each of `COUNTS` replaced by `value`, or its member removed (None)."""
    for count in COUNTS:
        if value is MISSING:
            data = re.sub(rb'"\w+": %d(, )?' % count, b"", data)
        else:
            data = data.replace(b": %d" % count, b": " + value)
    return data


class HostileProvider(FakeProvider):
    """The real fake, with its token counts swapped for `value` in the bytes it sends."""

    value: bytes | None = b"0"

    def _ok(self, ok: Ok, body: dict[str, Any], model: str, stream: bool) -> Reply:
        reply = super()._ok(Ok(text="fine", usage=COUNTS), body, model, stream)
        reply.body = hostile(reply.body, self.value)
        if reply.events is not None:
            reply.events = [hostile(event, self.value) for event in reply.events]
        return reply


@dataclass
class World:
    provider: HostileProvider
    sidecar: RunningSidecar
    http: httpx.AsyncClient

    async def ask(self, value: bytes | None, stream: bool) -> Answer:
        self.provider.value = value
        return await ask(self.http, stream)

    def outcome(self, answer: Answer) -> dict[str, Any]:
        request_id = answer.headers["x-request-id"]
        audit_dir = self.sidecar.settings.audit.dir
        assert answers_without_outcome([request_id], audit_dir) == []
        (event,) = [
            r.event for r in records(audit_dir, "request") if r.event["request_id"] == request_id
        ]
        return event


@asynccontextmanager
async def hostile_world(
    protocol: Protocol, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    async with HostileProvider(protocol, name="hostile") as provider:
        settings = build_settings(
            tmp_path,
            [ProviderSpec("hostile", provider, attributes={"residency": "eu"})],
            # Every value is tried on the one provider: its malformed answers must not
            # open its circuit for the values after them.
            routing={"circuit_failure_threshold": 1000, "attempts_per_provider": 1},
        )
        running = await start_sidecar(settings, monkeypatch)
        try:
            async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
                yield World(provider, running, http)
        finally:
            await running.stop()


@pytest.fixture(params=["openai", "anthropic"])
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    async with hostile_world(request.param, tmp_path, monkeypatch) as world:
        yield world


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    with capture_logs() as captured:
        yield captured


def ended_cleanly(answer: Answer, stream: bool) -> bool:
    if answer.status != 200:
        return False
    return not stream or answer.body.rstrip().endswith(b"data: [DONE]")


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_every_hostile_usage_value_leaves_an_outcome_record_and_the_log_verifies(
    world: World, stream: bool
) -> None:
    answers = {name: await world.ask(value, stream) for name, value in EVERY_VALUE.items()}

    outcomes = {name: world.outcome(answer)["outcome"] for name, answer in answers.items()}
    assert set(outcomes) == set(EVERY_VALUE)
    metrics = await world.http.get("/metrics")
    assert metrics.status_code == 200
    await world.sidecar.stop()
    world.sidecar.verify_audit()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_count_the_adapters_refuse_is_a_provider_failure_never_a_500(
    world: World, stream: bool
) -> None:
    for name, value in MALFORMED.items():
        answer = await world.ask(value, stream)

        assert answer.status != 500 and b"internal error" not in answer.body, name
        assert not ended_cleanly(answer, stream), name
        event = world.outcome(answer)
        assert event["outcome"] in ("all_failed", "stream_failed"), name
        assert {a["outcome"] for a in event["attempts"]} == {"malformed_response"}, name
        assert {a["status"] for a in event["attempts"]} == {200}, name


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_absent_count_is_answered_and_recorded_as_0(world: World, stream: bool) -> None:
    for name, value in READ_AS_0.items():
        answer = await world.ask(value, stream)

        assert ended_cleanly(answer, stream), name
        event = world.outcome(answer)
        assert (event["outcome"], event["invalid"]) == ("answered", {}), name
        # (Anthropic's stream reports output tokens at its start too: 1, as the real API.)
        assert event["usage"]["input_tokens"] == 0, name


@pytest.mark.parametrize("count", [-5, 2**53, 2**64], ids=lambda c: repr(c)[:12])
def test_a_count_no_record_can_hold_is_taken_as_0_and_described_at_the_record_boundary(
    count: int,
) -> None:
    # No adapter passes such a count on any more (above); the boundary stays for the one
    # that someday would, so that the record can always be written. (Only integers: the
    # compiled Usage holds nothing else.)
    outcome = RequestOutcome(request_id="r", protocol="openai")
    checked = outcome.checked_usage(Usage(count, 7))

    assert (checked.input_tokens, checked.output_tokens) == (0, 7)
    assert set(outcome.invalid) == {"usage.input_tokens"}
    assert len(outcome.invalid["usage.input_tokens"]) <= 64


async def test_a_failure_inside_a_committed_stream_is_recorded_and_ends_it_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: list[dict[str, Any]]
) -> None:
    async with hostile_world("openai", tmp_path, monkeypatch) as world:
        # The role and the first text go out, and the stream is committed to the client,
        # long before the usage chunk whose "abc" makes the answer malformed.
        world.provider.always(StallStream(after_events=2, seconds=COMMITTED_S))
        answer = await world.ask(b'"abc"', stream=True)

        assert answer.status == 200 and answer.stream_failed
        assert b"[DONE]" not in answer.body
        event = world.outcome(answer)
        assert (event["outcome"], event["status"]) == ("stream_failed", 502)
        assert [a["outcome"] for a in event["attempts"]] == ["malformed_response"]


async def test_an_event_the_log_cannot_canonicalise_is_recorded_reduced_and_marked_invalid(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No real path is left that puts such a value in an event (that is what the record
    # boundary is for), so this one poisons the outcome event on its way into the log.
    log = world.sidecar.sidecar.audit
    assert isinstance(log, AuditLog)
    submit = log.submit

    def poisoned(event: dict[str, Any], kind: RecordKind = "request") -> Any:
        if kind == "request" and "event" not in event.get("invalid", {}):
            event = {**event, "usage": {"input_tokens": 2**64, "output_tokens": 1}}
        return submit(event, kind)

    monkeypatch.setattr(log, "submit", poisoned)
    answer = await world.ask(b"3", stream=False)

    assert answer.status == 200
    event = world.outcome(answer)
    assert event["outcome"] == "answered"
    assert "event" in event["invalid"] and "usage" not in event
    await world.sidecar.stop()
    world.sidecar.verify_audit()
