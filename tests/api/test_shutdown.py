"""Graceful shutdown: stop accepting, drain in-flight requests, write a final checkpoint."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from policy_engine.audit import iter_records
from tests.fakes import FakeProvider, SlowFirstByte
from tests.ports import free_port
from tests.sidecar import API_KEY, ProviderSpec, build_settings

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}


async def wait_until_healthy(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the sidecar did not come up")


async def serve(
    tmp_path: Path, fake: FakeProvider, port: int, audit: dict[str, object] | None = None
) -> tuple[asyncio.subprocess.Process, Path]:
    """`policy-engine serve` as a real process, healthy when this returns."""
    settings = build_settings(
        tmp_path, [ProviderSpec("p", fake)], server={"port": port}, audit=audit or {}
    )
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "policy_engine.cli",
        "serve",
        "--config",
        str(config),
        env={"TEST_PROVIDER_KEY": API_KEY, "PATH": "/usr/bin:/bin"},
        stdout=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_until_healthy(f"http://127.0.0.1:{port}")
    except AssertionError:
        process.kill()
        await process.wait()
        raise
    return process, settings.audit.dir


async def stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return await asyncio.wait_for(process.wait(), 20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_drains_in_flight_requests_and_writes_a_final_checkpoint(
    tmp_path: Path,
) -> None:
    async with FakeProvider("openai") as fake:
        fake.script(SlowFirstByte(1.0))
        port = free_port()
        process, audit_dir = await serve(
            tmp_path,
            fake,
            port,
            {"checkpoint_every_records": 1000, "checkpoint_every_seconds": 3600},
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            in_flight = asyncio.create_task(
                http.post("/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": "sandbox"})
            )
            for _ in range(200):
                if fake.received:
                    break
                await asyncio.sleep(0.01)
            # uvicorn re-raises SIGTERM once it has shut down cleanly.
            assert await stop(process) == -signal.SIGTERM
            response = await in_flight
    assert response.status_code == 200
    records = list(iter_records(audit_dir))
    assert [r.event.get("outcome") for _, r in records if r.kind == "request"] == ["answered"]
    assert list(audit_dir.rglob("*.note")), "no checkpoint was written at shutdown"


async def test_a_stopped_sidecar_no_longer_accepts_connections(tmp_path: Path) -> None:
    async with FakeProvider("openai") as fake:
        port = free_port()
        process, _ = await serve(tmp_path, fake, port)
        assert await stop(process) == -signal.SIGTERM
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("/healthz")
