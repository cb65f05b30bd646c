"""For the egress tests: the test PKI, and one run of the sidecar with a provider reached
some way (through a proxy, over TLS) first, a direct fake as the fallback, and what each
request did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.fakes import FakeProvider, Received
from tests.pki import Issued
from tests.reliability._support import Answer, ask
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

EU = {"residency": "eu"}


@dataclass(frozen=True)
class Pki:
    bundle: Path  # the test CA nginx's good certificate chains to
    other_bundle: Path  # a CA that signed none of nginx's certificates but one
    sites: dict[str, Issued]


@dataclass
class Run:
    """What the requests did: answers, audit records, log lines, the calls each fake got."""

    answers: list[Answer]
    records: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    fronted: list[Received]
    fallback: list[Received]
    audit_bytes: bytes

    @property
    def routed(self) -> list[str | None]:
        return [answer.headers.get("x-routed-provider") for answer in self.answers]

    @property
    def attempts(self) -> list[list[tuple[str, str]]]:
        return [[(a["provider"], a["outcome"]) for a in r["attempts"]] for r in self.records]

    def connect_failures(self) -> list[str]:
        return [e["reason"] for e in self.logs if e["event"] == "upstream_connect_failed"]


async def through_sidecar(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    upstream_port: int,
    base_url: str,
    *,
    provider: dict[str, Any] | None = None,
    routing: dict[str, Any] | None = None,
    streams: tuple[bool, ...] = (False, True),
) -> Run:
    """`fronted` (first choice, at `base_url`) and `fallback` (direct, second choice);
    one request per entry of `streams`; the sidecar is stopped before this returns, so
    its pooled connections (and squid's tunnels) are closed."""
    async with (
        FakeProvider("openai", name="fronted", port=upstream_port) as fronted,
        FakeProvider("openai", name="fallback", reply="from the fallback") as fallback,
    ):
        settings = build_settings(
            tmp_path,
            [
                ProviderSpec(
                    "fronted", fronted, EU, priority=1, base_url=base_url, extra=provider or {}
                ),
                ProviderSpec("fallback", fallback, EU, priority=2, extra={"proxy": "direct"}),
            ],
            routing={"attempts_per_provider": 1, **(routing or {})},
        )
        with capture_logs() as logs:
            running = await start_sidecar(settings, monkeypatch)
            try:
                async with httpx.AsyncClient(
                    base_url=running.url, timeout=30, trust_env=False
                ) as http:
                    answers = [await ask(http, stream) for stream in streams]
            finally:
                await running.stop()
        running.verify_audit()
        audit = b"".join(
            path.read_bytes() for path in settings.audit.dir.rglob("*") if path.is_file()
        )
        return Run(
            answers,
            running.audit_events(),
            logs,
            list(fronted.received),
            list(fallback.received),
            audit,
        )
