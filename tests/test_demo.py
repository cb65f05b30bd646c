"""`make demo` works: fakes on the config's ports, the sidecar, the printed curl answers with
a forced fallback it names, and `report cost` on the demo's log prices the three strategies."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import yaml

from policy_engine.cli import main

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "deploy" / "demo"
PROMPT = "Summarise: patient Jane Roe, jane.roe@example.org, +44 20 7946 0958"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def demo_config_on_free_ports(tmp_path: Path) -> tuple[Path, int]:
    """The shipped demo config, moved to free ports and a temporary audit folder."""
    raw = yaml.safe_load((DEMO / "policy-engine.yaml").read_text())
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


async def test_the_demo_starts_answers_the_printed_request_and_stops_on_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, port = demo_config_on_free_ports(tmp_path)
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
        assert f"curl -si http://127.0.0.1:{port}/v1/chat/completions" in printed
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
            again = await http.post(
                "/v1/chat/completions",
                json={"model": "default", "messages": [{"role": "user", "content": PROMPT}]},
                headers={"X-Tenant-ID": "acme-eu", "X-Privacy-Tags": "pii"},
            )
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == PROMPT
        # The demo rate-limits acme-eu's first choice once: the first answer is a fallback.
        assert response.headers["x-fallback"] == "rate_limited"
        assert response.headers["x-routed-provider"] == "azure-openai-eu"
        assert response.headers["x-routed-model"] == response.json()["model"] == "gpt-4o-mini"
        assert again.headers["x-routed-model"] == "mistral-small-latest"
        assert "x-fallback" not in again.headers
        launcher.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(launcher.wait(), 30) == 0
    finally:
        if launcher.returncode is None:
            launcher.kill()
            await launcher.wait()
    assert main(["report", "cost", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"]["requests"] == 2
    assert report["total"]["fallbacks"] == 1
    assert [(s["name"], s["providers"]) for s in report["strategies"]] == [
        ("single provider", ["mistral-eu"]),
        ("dual provider", ["mistral-eu", "azure-openai-eu"]),
        ("primary + self-hosted fallback", ["mistral-eu", "vllm-onprem"]),
    ]
