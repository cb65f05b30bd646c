"""`make demo` works: fakes on the config's ports, the sidecar, and the printed curl answers."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import yaml

from policy_engine.audit import iter_records
from policy_engine.cli import main
from tests.ports import free_port, free_port_run

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "deploy" / "demo"
PROMPT = "Summarise: patient Jane Roe, jane.roe@example.org, +44 20 7946 0958"


def demo_config_on_free_ports(
    tmp_path: Path, fleet: dict[str, Any] | None = None
) -> tuple[Path, int]:
    """The shipped demo config, moved to free ports and a temporary audit folder."""
    raw = yaml.safe_load((DEMO / "policy-engine.yaml").read_text())
    if fleet is not None:
        raw["fleet"] = fleet
    raw["server"]["port"] = port = free_port()
    raw["policy"]["policy_dir"] = str((DEMO / raw["policy"]["policy_dir"]).resolve())
    raw["audit"]["dir"] = str(tmp_path / "demo" / "audit")
    raw["audit"]["signing_key_file"] = str(tmp_path / "demo" / "keys" / "audit-signing-key.pem")
    for provider in raw["providers"]:
        parts = urlsplit(provider["base_url"])
        netloc = f"127.0.0.1:{free_port()}"
        provider["base_url"] = urlunsplit(parts._replace(netloc=netloc))
        options = provider.get("options") or {}
        if "credentials_file" in options:
            options["credentials_file"] = str(tmp_path / "demo" / "gcp" / f"{provider['id']}.json")
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config, port


async def launch(config: Path, *flags: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(DEMO / "run_demo.py"),
        str(config),
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop(launcher: asyncio.subprocess.Process) -> None:
    """Ctrl-C, so the launcher stops the sidecar it started in a session of its own (a
    SIGKILL would leave that sidecar running); SIGKILL only if that does not end it."""
    if launcher.returncode is not None:
        return
    launcher.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(launcher.wait(), 40)
    except TimeoutError:
        launcher.kill()
        await launcher.wait()


async def refused(config: Path, *flags: str) -> str:
    """What a launcher that must refuse to start prints, once it has exited 1."""
    launcher = await launch(config, *flags)
    try:
        out, err = await asyncio.wait_for(launcher.communicate(), 60)
    finally:
        await stop(launcher)  # it started instead of refusing
    assert launcher.returncode == 1
    printed = out.decode() + err.decode()
    assert "Traceback" not in printed
    return printed


async def test_a_busy_sidecar_port_is_refused_with_the_ports_to_use_instead(
    tmp_path: Path,
) -> None:
    config, port = demo_config_on_free_ports(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        printed = await refused(config)
    assert f"port {port} (the sidecar) is already in use" in printed
    assert "make demo DEMO_PORT=" in printed and "DEMO_FAKE_PORT=" in printed


async def test_a_busy_fake_provider_port_is_refused_the_same_way(tmp_path: Path) -> None:
    config, _ = demo_config_on_free_ports(tmp_path)
    gemini = next(
        p for p in yaml.safe_load(config.read_text())["providers"] if p["id"] == "gemini-eu"
    )
    busy = urlsplit(gemini["base_url"]).port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", busy))
        taken.listen()
        printed = await refused(config)
    assert f"port {busy} (the fake gemini-eu) is already in use" in printed


async def test_a_port_given_on_the_command_line_is_checked_too(tmp_path: Path) -> None:
    config, _ = demo_config_on_free_ports(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        printed = await refused(config, "--port", str(busy))
    assert f"port {busy} (the sidecar) is already in use" in printed


async def test_the_demo_runs_on_the_ports_it_is_given(tmp_path: Path) -> None:
    config, _ = demo_config_on_free_ports(tmp_path)
    providers = len(yaml.safe_load(config.read_text())["providers"])
    port, fakes = free_port(), free_port_run(providers)
    launcher = await launch(config, "--port", str(port), "--fake-port", str(fakes))
    try:
        printed = await read_until_ready(launcher)
        assert f"127.0.0.1:{fakes}-{fakes + providers - 1}" in printed
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            response = await http.post(
                "/v1/chat/completions",
                json={"model": "default", "messages": [{"role": "user", "content": PROMPT}]},
                headers={"X-Tenant-ID": "acme-eu", "X-Privacy-Tags": "pii"},
            )
        assert response.status_code == 200
        launcher.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(launcher.wait(), 30) == 0
    finally:
        await stop(launcher)


async def read_until_ready(launcher: asyncio.subprocess.Process) -> str:
    """What the demo printed up to its ready banner; what it said if it exited first."""
    assert launcher.stdout is not None and launcher.stderr is not None
    printed = ""
    async with asyncio.timeout(60):
        while "Ctrl-C stops everything." not in printed:
            line = await launcher.stdout.readline()
            if not line:
                said = (await launcher.stderr.read()).decode(errors="replace")
                raise AssertionError(f"the demo exited before it was ready:\n{printed}{said}")
            printed += line.decode()
    return printed


async def run_demo_once(config: Path, port: int) -> str:
    """Start the demo, send the printed request twice, stop it with Ctrl-C; what it printed.

    The demo rate-limits acme-eu's first choice once: the first answer is a fallback."""
    launcher = await launch(config)
    try:
        printed = await read_until_ready(launcher)
        assert f"curl -si http://127.0.0.1:{port}/v1/chat/completions" in printed
        console = re.search(r"Console: (http://127\.0\.0\.1:\d+)", printed)
        assert console is not None, "the demo prints the console's address"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(200):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            response, again = [
                await http.post(
                    "/v1/chat/completions",
                    json={"model": "default", "messages": [{"role": "user", "content": PROMPT}]},
                    headers={"X-Tenant-ID": "acme-eu", "X-Privacy-Tags": "pii"},
                )
                for _ in range(2)
            ]
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == PROMPT
        assert response.headers["x-fallback"] == "rate_limited"
        assert response.headers["x-routed-provider"] == "azure-openai-eu"
        assert response.headers["x-routed-model"] == response.json()["model"] == "gpt-4o-mini"
        assert again.headers["x-routed-model"] == "mistral-small-latest"
        assert "x-fallback" not in again.headers
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
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            claude = await http.post(
                "/v1/chat/completions",
                json={"model": "claude", "messages": [{"role": "user", "content": PROMPT}]},
                headers={"X-Tenant-ID": "acme-eu", "X-Privacy-Tags": "pii"},
            )
        # Anthropic overloaded, Bedrock throttled: the same model on Vertex AI, in the EU.
        assert claude.status_code == 200
        assert claude.headers["x-routed-provider"] == "vertex-eu"
        assert claude.headers["x-routed-model"] == "claude-sonnet-4-5"
        assert claude.json()["choices"][0]["message"]["content"] == PROMPT
        launcher.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(launcher.wait(), 30) == 0
    finally:
        await stop(launcher)
    return printed


async def test_the_demo_starts_answers_the_printed_request_and_stops_on_ctrl_c(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, port = demo_config_on_free_ports(tmp_path)
    printed = await run_demo_once(config, port)
    assert "Redis: not configured" in printed
    assert main(["report", "cost", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"]["requests"] == 3
    assert report["total"]["fallbacks"] == 2
    assert [(s["name"], s["providers"]) for s in report["strategies"]] == [
        ("single provider", ["mistral-eu"]),
        ("dual provider", ["mistral-eu", "azure-openai-eu"]),
        ("primary + self-hosted fallback", ["mistral-eu", "vllm-onprem"]),
    ]


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
    audit = tmp_path / "demo" / "audit"
    records = [r.event for _, r in iter_records(audit) if r.kind == "request"]
    assert records[-1]["limits"]["source"] == "redis"
    assert not redis_answers(redis_port)


def readme_responses_calls(port: int) -> str:
    """The README's Responses SDK calls against the demo, pointed at `port`."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## The OpenAI Responses API") :]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "127.0.0.1:8080" in code
    return code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")


async def test_the_readmes_responses_sdk_calls_work_against_the_demo(tmp_path: Path) -> None:
    config, port = demo_config_on_free_ports(tmp_path)
    launcher = await launch(config)
    try:
        await read_until_ready(launcher)
        calls = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            readme_responses_calls(port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(calls.communicate(), 60)
        assert calls.returncode == 0, err.decode()
        fallback, streamed, structured, denied = out.decode().splitlines()
        assert fallback == "azure-openai-eu rate_limited Mail jane.roe@example.org the plan"
        assert streamed.startswith("Hello there | ") and streamed.endswith(" tokens")
        assert set(json.loads(structured)) == {"city", "days"}
        assert denied.startswith("403 ")
        assert "privacy: pci card data may only go to a self-hosted provider" in denied
    finally:
        await stop(launcher)


async def test_the_printed_embeddings_commands_fall_back_within_one_model_and_show_a_denial(
    tmp_path: Path,
) -> None:
    """The official SDK calls the demo prints (and the README shows), run as printed."""
    config, _ = demo_config_on_free_ports(tmp_path)
    launcher = await launch(config)
    try:
        printed = await read_until_ready(launcher)
        script = printed.split("<<'EOF'\n", 1)[1].split("\nEOF", 1)[0]
        sdk = await asyncio.create_subprocess_exec(
            sys.executable,
            "-",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(sdk.communicate(script.encode()), 60)
        assert sdk.returncode == 0, err.decode()
        fallback, denial = out.decode().splitlines()
        # azure-openai-eu rate-limits the first embedding: the same model answers on
        # openai-us, with the model's 1,536 dimensions; mistral-embed is never tried.
        assert fallback == "openai-us rate_limited 1536"
        assert "privacy: phi may be embedded only by a self-hosted provider" in denial
        assert "azure-openai-eu: residency" in denial
    finally:
        await stop(launcher)
