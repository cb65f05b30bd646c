"""Shared checks for the end-to-end fault tests: the five invariants of DESIGN.md.

Every prompt carries the same synthetic PII; after a fault, `Invariants.check` proves
that no provider outside the allowed set was called (1), no redacted value reached a
provider (3), every request has exactly one audit record and the log verifies (4),
and neither the audit log nor the captured log lines hold a raw value (5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from policy_engine.audit import Record, iter_records
from tests.fakes import FakeProvider, Received
from tests.sidecar import RunningSidecar

# Synthetic values only: a reserved domain and a card-network test number.
EMAIL = "ada.lovelace@example.com"
CARD = "4111 1111 1111 1111"
CARD_DIGITS = CARD.replace(" ", "")
PROMPT = f"Email {EMAIL} the receipt for card {CARD}, please."
REDACTED_VALUES = (EMAIL, CARD, CARD_DIGITS)


def chat_body(stream: bool, prompt: str = PROMPT) -> dict[str, Any]:
    return {"model": "default", "messages": [{"role": "user", "content": prompt}], "stream": stream}


@dataclass
class Answer:
    status: int
    body: bytes
    headers: httpx.Headers

    @property
    def error(self) -> dict[str, Any] | None:
        if not self.headers.get("content-type", "").startswith("application/json"):
            return None
        document = orjson.loads(self.body)
        error: dict[str, Any] | None = document.get("error")
        return error

    @property
    def stream_failed(self) -> bool:
        return b'"error"' in self.body and self.headers.get("content-type", "").startswith(
            "text/event-stream"
        )


# The sandbox tenant asking for EU residency: only EU providers are allowed, and the
# policy asks for no redaction beyond the structured types (no NER needed).
TENANT = "sandbox"
EU_ONLY = {"X-Data-Residency": "eu"}


async def ask(
    http: httpx.AsyncClient,
    stream: bool,
    tenant: str = TENANT,
    prompt: str = PROMPT,
    headers: dict[str, str] | None = None,
) -> Answer:
    sent = {"X-Tenant-ID": tenant, **EU_ONLY, **(headers or {})}
    async with http.stream(
        "POST", "/v1/chat/completions", json=chat_body(stream, prompt), headers=sent
    ) as response:
        raw = await response.aread()
    return Answer(response.status_code, raw, response.headers)


def numbered(n: int, prompt: str = PROMPT) -> str:
    """`prompt` and a run of `n` x's (n >= 1). The audit log holds no content, but the
    intent record's `context.input_chars` is the prompt's length: it names the request a
    provider received, even one whose client never learned its request id."""
    return f"{prompt} {'x' * n}"


_RUN_OF_X = re.compile(rb" (x+)\"")


def number_of(received: Received) -> int:
    """Which `numbered` prompt a provider received (any wire format: a JSON string)."""
    match = _RUN_OF_X.search(received.body)
    assert match is not None, "a provider received a request that no test numbered"
    return len(match.group(1))


def records(audit_dir: Path, kind: str) -> list[Record]:
    return [record for _, record in iter_records(audit_dir) if record.kind == kind]


def sends_without_intent(
    fakes: Iterable[FakeProvider], audit_dir: Path, prompt: str = PROMPT
) -> list[int]:
    """The numbered requests a provider received with no intent record in the log."""
    recorded = {intent.event["context"]["input_chars"] for intent in records(audit_dir, "intent")}
    received = {number_of(r) for fake in fakes for r in fake.received}
    return sorted(n for n in received if len(numbered(n, prompt)) not in recorded)


def answers_without_outcome(request_ids: Iterable[str], audit_dir: Path) -> list[str]:
    """Answered requests with no outcome record naming a durable intent of the same request."""
    intents = {intent.seq: intent.event["request_id"] for intent in records(audit_dir, "intent")}
    paired = {
        outcome.event["request_id"]
        for outcome in records(audit_dir, "request")
        if intents.get(outcome.event.get("intent_seq")) == outcome.event["request_id"]
    }
    return [request_id for request_id in request_ids if request_id not in paired]


def audit_bytes(audit_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(audit_dir.rglob("*")) if p.is_file())


def hits(values: Iterable[str], haystacks: Iterable[tuple[str, bytes]]) -> list[str]:
    """Where any of `values` occurs, as 'where: value' lines (empty when clean)."""
    found = []
    encoded = [(v, v.encode()) for v in values]
    for where, haystack in haystacks:
        for value, raw in encoded:
            if raw in haystack:
                found.append(f"{where}: {value}")
    return found


@dataclass
class Invariants:
    sidecar: RunningSidecar
    allowed: Sequence[FakeProvider]
    logs: list[dict[str, Any]]  # from structlog's capture_logs
    forbidden: Sequence[FakeProvider] = ()

    def check(self, requests_sent: int, secrets: Sequence[str] = REDACTED_VALUES) -> None:
        for fake in self.forbidden:
            assert fake.received == [], f"{fake.name} is outside the allowed set but was called"
        bodies = [
            (f"{fake.name} request {n}", received.body)
            for fake in self.allowed
            for n, received in enumerate(fake.received)
        ]
        assert hits(secrets, bodies) == [], "a redacted value reached a provider"
        assert len(self.sidecar.audit_events()) == requests_sent
        self.sidecar.verify_audit()
        records = [("audit log", audit_bytes(self.sidecar.settings.audit.dir))]
        assert hits(secrets, records) == []
        requests_logged = [line for line in self.logs if line.get("event") == "request"]
        assert len(requests_logged) == requests_sent, "the log capture saw every request"
        lines = [("log line", orjson.dumps(line, default=repr)) for line in self.logs]
        assert hits(secrets, lines) == []
