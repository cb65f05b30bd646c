"""`make demo` works: fakes on the config's ports, the sidecar, and the printed curl answers."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import yaml

from policy_engine.audit import iter_records

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "deploy" / "demo"
PROMPT = "Summarise: patient Jane Roe, jane.roe@example.org, +44 20 7946 0958"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def demo_config_on_free_ports(
    tmp_path: Path, fleet: dict[str, Any] | None = None
) -> tuple[Path, int]:
    """The shipped demo config, moved to free ports and a temporary audit folder."""
    raw = yaml.safe_load((DEMO / "policy-engine.yaml").read_text())
    if fleet is not None:
        raw["fleet"] = fleet
    raw["server"]["port"] = port = free_port()
    raw["policy"]["policy_dir"] = str((DEMO / raw["policy"]["policy_dir"]).resolve())
    raw["audit"]["dir"] = str(tmp_path / "audit")
    raw["audit"]["signing_key_file"] = str(tmp_path / "keys" / "audit-signing-key.pem")
    for provider in raw["providers"]:
        parts = urlsplit(provider["base_url"])
        netloc = f"127.0.0.1:{free_port()}"
        provider["base_url"] = urlunsplit(parts._replace(netloc=netloc))
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config, port


async def run_demo_once(config: Path, port: int) -> str:
    """Start the demo, send the printed request, stop it with Ctrl-C; what it printed."""
    launcher = await asyncio.create_subprocess_exec(
        sys.executable,
        str(DEMO / "run_demo.py"),
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert launcher.stdout is not None
    try:
        printed = ""
        async with asyncio.timeout(60):
            while "Ctrl-C stops everything." not in printed:
                line = await launcher.stdout.readline()
                assert line, "the demo exited before it was ready"
                printed += line.decode()
        assert f"curl -s http://127.0.0.1:{port}/v1/chat/completions" in printed
        console = re.search(r"Console: (http://127\.0\.0\.1:\d+)", printed)
        assert console is not None, "the demo prints the console's address"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(200):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            response = await http.post(
                "/v1/chat/completions",
                json={"model": "default", "messages": [{"role": "user", "content": PROMPT}]},
                headers={"X-Tenant-ID": "acme-eu", "X-Privacy-Tags": "pii"},
            )
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == PROMPT
        assert response.headers["x-routed-provider"] in {
            "mistral-eu",
            "azure-openai-eu",
            "gemini-eu",
            "vllm-onprem",
        }
        async with httpx.AsyncClient(base_url=console.group(1), timeout=10) as http:
            for _ in range(200):
                try:
                    page = await http.get("/api/decisions")
                    if page.status_code == 200 and page.json()["total"]:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            assert page.json()["rows"][0]["tenant"] == "acme-eu"
        launcher.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(launcher.wait(), 30) == 0
    finally:
        if launcher.returncode is None:
            launcher.kill()
            await launcher.wait()
    return printed


async def test_the_demo_starts_answers_the_printed_request_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    config, port = demo_config_on_free_ports(tmp_path)
    printed = await run_demo_once(config, port)
    assert "Redis: not configured" in printed


def redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def test_the_demo_starts_redis_when_its_config_asks_for_it_and_stops_it_after(
    tmp_path: Path,
) -> None:
    redis_port = free_port()
    fleet = {
        "replica": "demo",
        "redis": {"url": f"redis://127.0.0.1:{redis_port}/0", "timeout_ms": 2000},
        "limits": {"tenants": {"acme-eu": {"requests_per_minute": 60}}},
    }
    config, port = demo_config_on_free_ports(tmp_path, fleet)
    printed = await run_demo_once(config, port)
    assert f"redis://127.0.0.1:{redis_port}/0" in printed
    records = [r.event for _, r in iter_records(tmp_path / "audit") if r.kind == "request"]
    assert records[-1]["limits"]["source"] == "redis"
    assert not redis_answers(redis_port)
