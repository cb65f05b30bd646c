"""Test support: a real OPA server holding exactly what the embedded engine loads.

The policy folder is laid out as OPA loads a directory (`tenants/data.json` is
`data.tenants`), so the server gets the same folder with its `*_test.rego` ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson
from aiohttp import web

from policy_engine._config import load_config
from policy_engine._context import RoutingContext, provider_catalog
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policies"
OPA_BINARY = ROOT / "tools" / "bin" / "opa"
DEMO_CONFIG = ROOT / "deploy" / "demo" / "policy-engine.yaml"
ENTRYPOINT = "router/decision"
START_ATTEMPTS = 5
START_TIMEOUT_S = 15.0


@dataclass(frozen=True, slots=True)
class OpaServer:
    process: subprocess.Popen[bytes]
    url: str


def opa_arguments(policy_dir: Path) -> list[str]:
    """`policy_dir` as the embedded engine reads it: the folder, without its tests."""
    return ["--ignore=*_test.rego", str(policy_dir)]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _start_once(arguments: Sequence[str], log: IO[bytes]) -> OpaServer | None:
    port = free_port()
    process = subprocess.Popen(
        [
            str(OPA_BINARY),
            "run",
            "--server",
            f"--addr=127.0.0.1:{port}",
            "--skip-version-check",
            "--log-level=error",
            *arguments,
        ],
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            # Most likely another process took the port between probe and bind.
            return None
        if _healthy(url):
            return OpaServer(process, url)
        time.sleep(0.02)
    stop_opa(process)
    raise RuntimeError(f"OPA did not become healthy within {START_TIMEOUT_S}s")


def start_opa(arguments: Sequence[str] | None = None) -> OpaServer:
    """A real OPA server on a free loopback port, healthy when this returns.

    `arguments` are what OPA loads; by default the shipped policy as the embedded
    engine reads it.
    """
    loaded = opa_arguments(POLICY_DIR) if arguments is None else arguments
    # A file, not a pipe: nobody reads OPA's output while it runs, and a full pipe
    # would stall it.
    with tempfile.TemporaryFile() as log:
        for _ in range(START_ATTEMPTS):
            server = _start_once(loaded, log)
            if server is not None:
                return server
        log.seek(0)
        last_words = log.read()[-2000:].decode(errors="replace")
    raise RuntimeError(f"OPA failed to start after {START_ATTEMPTS} attempts:\n{last_words}")


def stop_opa(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


@contextlib.contextmanager
def running_opa(arguments: Sequence[str] | None = None) -> Iterator[OpaServer]:
    server = start_opa(arguments)
    try:
        yield server
    finally:
        stop_opa(server.process)


def demo_catalog() -> dict[str, Any]:
    """The demo deployment's providers exactly as the sidecar turns them into policy input."""
    return provider_catalog(load_config(DEMO_CONFIG))


def context(
    tenant: str,
    residency: str | None = None,
    tags: tuple[str, ...] = (),
    model: str = "default",
) -> RoutingContext:
    return RoutingContext(
        tenant=tenant,
        residency=residency,
        privacy_tags=tags,
        model=model,
        stream=False,
        input_chars=42,
        protocol="openai",
    )


class FakeOpa:
    """A loopback HTTP server standing in for OPA's Data API, answering as told."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"{}"
        self.stall = False
        self.release = asyncio.Event()
        self.url = ""

    def answer(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body

    def answer_json(self, document: Any, status: int = 200) -> None:
        self.answer(status, orjson.dumps(document))

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        if self.stall:
            await self.release.wait()
        return web.Response(status=self.status, body=self.body, content_type="application/json")
