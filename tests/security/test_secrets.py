"""Secrets: provider keys stay out of what clients see, the signing key must be private,
and the sidecar listens on loopback unless told otherwise."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from policy_engine._config import ServerSettings, parse_config
from policy_engine._errors import ConfigError
from policy_engine.audit import PRIVATE_KEY_NAME
from tests.fakes import FakeProvider
from tests.reliability._process import CLI, SidecarProcess
from tests.security._support import KEY_ENV, PROVIDER_KEY, UrlSpec, echoing_provider
from tests.sidecar import API_KEY, ProviderSpec, build_settings, chat_once


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as provider:
        yield provider


async def test_a_provider_echoing_our_key_in_its_error_has_it_redacted_for_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, PROVIDER_KEY)
    async with echoing_provider() as url:
        settings = build_settings(tmp_path, [UrlSpec("echo", url, {"default": "echo-400"})])
        body = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
        response, _ = await chat_once(settings, monkeypatch, body, {"X-Tenant-ID": "sandbox"})

    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "Bearer [redacted]" in message, "the provider's own words still reach the client"
    assert PROVIDER_KEY not in response.text


def write_config(tmp_path: Path, fake: FakeProvider, **server: object) -> Path:
    settings = build_settings(tmp_path, [ProviderSpec("alpha", fake, attributes={})])
    raw = settings.model_dump(mode="json")
    raw["server"] = {k: v for k, v in raw["server"].items() if k not in ("host", "port")}
    raw["server"].update(server)
    config = tmp_path / "policy-engine.yaml"
    config.write_text(yaml.safe_dump(raw))
    return config


def serve(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"TEST_PROVIDER_KEY": API_KEY, "PATH": "/usr/bin:/bin"},
    )


async def test_a_group_readable_signing_key_is_refused_at_startup_with_a_clear_message(
    tmp_path: Path, fake: FakeProvider
) -> None:
    config = write_config(tmp_path, fake)
    key = tmp_path / "keys" / PRIVATE_KEY_NAME
    key.chmod(0o644)

    result = serve(config)

    assert result.returncode == 2
    assert result.stderr.startswith(f"policy-engine: signing key {key} has mode 644;")
    assert "Traceback" not in result.stderr + result.stdout


def test_the_default_listen_address_is_loopback() -> None:
    assert ServerSettings().host == "127.0.0.1"


def test_listening_beyond_loopback_without_caller_tokens_is_refused(tmp_path: Path) -> None:
    raw = {
        "server": {"host": "0.0.0.0"},
        "providers": [
            {
                "id": "a",
                "adapter": "openai",
                "base_url": "http://127.0.0.1:1",
                "models": {"default": "m"},
            }
        ],
        "audit": {"dir": str(tmp_path), "signing_key_file": str(tmp_path / "k")},
    }
    with pytest.raises(ConfigError, match=r"needs auth\.tokens"):
        parse_config(raw)


def listening_addresses(pid: int) -> set[str]:
    """Local addresses of the process's listening TCP sockets, from /proc."""
    targets = []
    for link in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # closed since the listing
            targets.append(link.readlink().name)
    inodes = {t[len("socket:[") : -1] for t in targets if t.startswith("socket:[")}
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                found.add(fields[1].split(":")[0])
    return found


async def test_the_served_sidecar_binds_loopback_when_the_config_names_no_host(
    tmp_path: Path, fake: FakeProvider
) -> None:
    settings = build_settings(tmp_path, [ProviderSpec("alpha", fake, attributes={})])
    sidecar = SidecarProcess(settings, tmp_path, {"TEST_PROVIDER_KEY": API_KEY})
    raw = yaml.safe_load(sidecar.config.read_text())
    del raw["server"]["host"]
    sidecar.config.write_text(yaml.safe_dump(raw))
    await sidecar.start()
    try:
        addresses = listening_addresses(sidecar.pid)
    finally:
        sidecar.stop()
    assert addresses == {"0100007F"}  # 127.0.0.1, little-endian hex as the kernel prints it
