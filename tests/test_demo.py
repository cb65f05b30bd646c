"""`make demo` works: fakes on the config's ports, the sidecar, and the printed curl answers."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import yaml

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
    tmp_path: Path,
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
        assert f"curl -s http://127.0.0.1:{port}/v1/chat/completions" in printed
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
        launcher.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(launcher.wait(), 30) == 0
    finally:
        if launcher.returncode is None:
            launcher.kill()
            await launcher.wait()
