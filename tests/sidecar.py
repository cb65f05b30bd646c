"""Runs the real sidecar on loopback in the test's event loop, beside fake providers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import Settings, parse_config
from policy_engine.api import Sidecar, create_app
from policy_engine.audit import (
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    iter_records,
    load_public_key,
    verify_log,
    write_key_pair,
)
from policy_engine.cli._serve import uvicorn_config
from tests.conformance._recorder import ConformanceRecorder
from tests.fakes import FakeProvider, aws_environment

REPO = Path(__file__).resolve().parents[1]
POLICY_DIR = REPO / "policies"
API_KEY = "test-key"


@dataclass
class ProviderSpec:
    """One provider in a test config, served by a fake."""

    id: str
    fake: FakeProvider
    attributes: dict[str, Any] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=lambda: {"default": "test-model"})
    priority: int = 100
    api_key_env: str | None = "TEST_PROVIDER_KEY"  # set to API_KEY by start_sidecar
    api_key_file: str | None = None
    model_attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    base_url: str | None = None  # the fake's unless given (say, through a TLS front)
    extra: dict[str, Any] = field(default_factory=dict)  # more provider settings (proxy, ...)

    def config(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id,
            "adapter": self.fake.protocol,
            "base_url": self.base_url or self.fake.base_url,
            "models": self.models,
            "priority": self.priority,
            "attributes": self.attributes,
            "model_attributes": self.model_attributes,
        }
        if self.api_key_file is not None:
            entry["api_key_file"] = self.api_key_file
        elif self.api_key_env is not None and self.fake.protocol not in ("bedrock", "vertex"):
            # Bedrock and Vertex sign with their cloud's credentials (the fakes' own).
            entry["api_key_env"] = self.api_key_env
        if self.fake.protocol == "azure_openai":
            entry["options"] = {"api_version": "2024-10-21"}
        elif self.fake.protocol in ("bedrock", "vertex"):
            entry["options"] = self.fake.options()
        return {**entry, **self.extra}


def build_settings(
    tmp_path: Path, providers: Sequence[ProviderSpec], **sections: dict[str, Any]
) -> Settings:
    keys = tmp_path / "keys"
    if not (keys / PRIVATE_KEY_NAME).exists():
        write_key_pair(keys, Ed25519PrivateKey.generate())
    raw: dict[str, Any] = {
        "server": {"host": "127.0.0.1", "port": 0},
        "policy": {"policy_dir": str(POLICY_DIR)},
        "routing": {
            "deadline_s": 10,
            "connect_timeout_s": 1,
            "first_byte_timeout_s": 2,
            "attempt_timeout_s": 5,
            "backoff_base_s": 0.01,
            "backoff_max_s": 0.05,
        },
        "audit": {
            "dir": str(tmp_path / "audit"),
            "signing_key_file": str(keys / PRIVATE_KEY_NAME),
            "batch_interval_ms": 1,
        },
        "providers": [p.config() for p in providers],
    }
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    return parse_config(raw)


@dataclass
class RunningSidecar:
    settings: Settings
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    conformance: ConformanceRecorder

    @property
    def sidecar(self) -> Sidecar:
        sidecar: Sidecar = self.conformance.app.state.sidecar  # type: ignore[attr-defined]
        return sidecar

    def audit_events(self) -> list[dict[str, Any]]:
        return [
            record.event
            for _, record in iter_records(self.settings.audit.dir)
            if record.kind == "request"
        ]

    def verify_audit(self) -> None:
        public = load_public_key(self.settings.audit.signing_key_file.parent / PUBLIC_KEY_NAME)
        verify_log(self.settings.audit.dir, [public])

    def openai_sdk(self, headers: dict[str, str]) -> openai.AsyncOpenAI:
        """The official OpenAI SDK pointed here; no retries, so a test sees each answer."""
        return openai.AsyncOpenAI(
            base_url=f"{self.url}/v1", api_key="unused", default_headers=headers, max_retries=0
        )

    def anthropic_sdk(self, headers: dict[str, str]) -> anthropic.AsyncAnthropic:
        """The official Anthropic SDK pointed here; no retries, as `openai_sdk`."""
        return anthropic.AsyncAnthropic(
            base_url=self.url, api_key="unused", default_headers=headers, max_retries=0
        )

    async def stop(self) -> None:
        """Stop serving; fail if any chat or embeddings answer broke its protocol
        (tests/conformance)."""
        if not self.task.done():
            self.server.should_exit = True
            await asyncio.wait_for(self.task, 10)
        problems, self.conformance.problems = self.conformance.problems, []
        if problems:
            shown = "\n".join(problems[:20])
            raise AssertionError(f"{len(problems)} answers break their protocol:\n{shown}")


async def start_sidecar(
    settings: Settings, monkeypatch: Any, aws: dict[str, str] | None = None
) -> RunningSidecar:
    """`aws`: AWS variables for botocore's chain over the fakes' synthetic key, for a
    config with a Bedrock provider (which never reads the machine's own AWS setup)."""
    monkeypatch.setenv("TEST_PROVIDER_KEY", API_KEY)
    if any(p.adapter == "bedrock" and p.cloud_signed for p in settings.providers):
        home = str(settings.audit.dir.parent)
        for name, value in aws_environment(home, **(aws or {})).items():
            if value:
                monkeypatch.setenv(name, value)
            else:
                monkeypatch.delenv(name, raising=False)
    conformance = ConformanceRecorder(create_app(settings))
    # Served as `policy-engine serve` serves it, on the test's own event loop.
    config = uvicorn_config(conformance, settings, "127.0.0.1", 0, loop="asyncio")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        task.cancel()
        raise RuntimeError("the sidecar did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    return RunningSidecar(settings, f"http://127.0.0.1:{port}", server, task, conformance)


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[RunningSidecar]:
    """A sidecar for a module-scoped fixture, which cannot use the per-test monkeypatch."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        running = await start_sidecar(settings, monkeypatch)
        try:
            yield running
        finally:
            await running.stop()


async def chat_once(
    settings: Settings, monkeypatch: Any, body: Any, headers: dict[str, str]
) -> tuple[httpx.Response, RunningSidecar]:
    """Start a sidecar, send one chat completion, stop it (so its audit log is closed)."""
    running = await start_sidecar(settings, monkeypatch)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            response = await http.post("/v1/chat/completions", json=body, headers=headers)
    finally:
        await running.stop()
    return response, running
