"""Shared checks for the end-to-end fault tests: the five invariants of DESIGN.md.

Every prompt carries the same synthetic PII; after a fault, `Invariants.check` proves
that no provider outside the allowed set was called (1), no redacted value reached a
provider (3), every request has exactly one audit record and the log verifies (4),
and neither the audit log nor the captured log lines hold a raw value (5).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.fakes import FakeProvider
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
