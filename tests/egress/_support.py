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


def trusting(bundle: Path) -> dict[str, Any]:
    """The setting (of a provider or of routing) that trusts the CAs in `bundle`."""
    return {"ca_bundle": str(bundle)}


def via_proxy(port: int) -> dict[str, Any]:
    """The routing setting that sends every provider through the proxy on `port`."""
    return {"proxy": f"http://127.0.0.1:{port}"}


@dataclass(frozen=True)
class Outcome:
    """Where the requests went: who answered each, the attempts in each audit record, and
    how many calls each fake got (one value, so a test compares it in one assert)."""

    routed: list[str | None]
    attempts: list[list[tuple[str, str]]]
    fronted_calls: int
    fallback_calls: int


def answered_by_fronted(requests: int = 2) -> Outcome:
    return Outcome(["fronted"] * requests, [[("fronted", "ok")]] * requests, requests, 0)


def fell_back_from_a_connection_failure(requests: int = 2) -> Outcome:
    """`fronted` could not be connected to (nothing reached it); `fallback` answered."""
    attempt = [("fronted", "connection"), ("fallback", "ok")]
    return Outcome(["fallback"] * requests, [attempt] * requests, 0, requests)


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

    @property
    def outcome(self) -> Outcome:
        return Outcome(self.routed, self.attempts, len(self.fronted), len(self.fallback))

    def connect_failures(self) -> list[str]:
        return [e["reason"] for e in self.logs if e["event"] == "upstream_connect_failed"]


@dataclass(frozen=True)
class Sidecar:
    """One test's sidecar with `fronted` (first choice, at the base URL a test names; its
    fake listens on `upstream_port`, behind nginx) and `fallback` (direct, second choice)."""

    tmp_path: Path
    monkeypatch: pytest.MonkeyPatch
    upstream_port: int

    async def run(
        self,
        base_url: str,
        *,
        provider: dict[str, Any] | None = None,
        routing: dict[str, Any] | None = None,
        streams: tuple[bool, ...] = (False, True),
    ) -> Run:
        """One request per entry of `streams`; the sidecar is stopped before this returns,
        so its pooled connections (and squid's tunnels) are closed."""
        async with (
            FakeProvider("openai", name="fronted", port=self.upstream_port) as fronted,
            FakeProvider("openai", name="fallback", reply="from the fallback") as fallback,
        ):
            settings = build_settings(
                self.tmp_path,
                [
                    ProviderSpec(
                        "fronted", fronted, EU, priority=1, base_url=base_url, extra=provider or {}
                    ),
                    ProviderSpec("fallback", fallback, EU, priority=2, extra={"proxy": "direct"}),
                ],
                routing={"attempts_per_provider": 1, **(routing or {})},
            )
            with capture_logs() as logs:
                running = await start_sidecar(settings, self.monkeypatch)
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
