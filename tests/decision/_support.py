"""Test support: a real OPA server holding exactly what the embedded engine loads.

`opa run` on the policy folder would mount `data/tenants.json` at `data.data` (OPA
puts a JSON file at the path of its directory), while the sidecar's embedded engine
loads it as `data.tenants`. So the server is given each file explicitly: every
non-test module the embedded engine compiles, and every data file with the
`<stem>:<path>` prefix that mounts it at `data.<stem>`.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_engine._config import parse_config
from policy_engine._context import RoutingContext, provider_catalog
from policy_engine.decision import PolicySource

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policies"
OPA_BINARY = ROOT / "tools" / "bin" / "opa"
ENTRYPOINT = "router/decision"
START_ATTEMPTS = 5
START_TIMEOUT_S = 15.0

# The provider catalog of the demo deployment, in the config file's shape: the ids
# the shipped tenants name, and the attributes each policy rule reads.
DEMO_PROVIDERS: list[dict[str, Any]] = [
    {
        "id": "openai-us",
        "adapter": "openai",
        "base_url": "https://api.openai.example/v1",
        "api_key_env": "DEMO_OPENAI_KEY",
        "models": {"default": "gpt-4o-mini", "smart": "gpt-4o"},
        "attributes": {
            "residency": "us",
            "region": "us-east-1",
            "cloud": "openai",
            "certifications": ["soc2"],
            "price_per_1m_input": 0.15,
            "price_per_1m_output": 0.6,
        },
    },
    {
        "id": "azure-openai-us",
        "adapter": "azure_openai",
        "base_url": "https://us.azure.example",
        "api_key_env": "DEMO_AZURE_US_KEY",
        "models": {"default": "gpt-4o-mini"},
        "options": {"api_version": "2024-10-21"},
        "attributes": {
            "residency": "us",
            "region": "eastus2",
            "cloud": "azure",
            "certifications": ["soc2", "hipaa_baa"],
            "zero_data_retention": True,
        },
    },
    {
        "id": "azure-openai-eu",
        "adapter": "azure_openai",
        "base_url": "https://eu.azure.example",
        "api_key_env": "DEMO_AZURE_EU_KEY",
        "models": {"default": "gpt-4o-mini"},
        "options": {"api_version": "2024-10-21"},
        "attributes": {
            "residency": "eu",
            "region": "swedencentral",
            "cloud": "azure",
            "certifications": ["soc2", "hipaa_baa"],
        },
    },
    {
        "id": "anthropic-us",
        "adapter": "anthropic",
        "base_url": "https://api.anthropic.example",
        "api_key_env": "DEMO_ANTHROPIC_KEY",
        "models": {"default": "claude-haiku", "smart": "claude-sonnet"},
        "attributes": {
            "residency": "us",
            "certifications": ["soc2", "hipaa_baa"],
            "zero_data_retention": True,
        },
    },
    {
        "id": "mistral-eu",
        "adapter": "openai",
        "base_url": "https://api.mistral.example/v1",
        "api_key_env": "DEMO_MISTRAL_KEY",
        "models": {"default": "mistral-small"},
        "attributes": {"residency": "eu", "zero_data_retention": True},
    },
    {
        "id": "gemini-eu",
        "adapter": "gemini",
        "base_url": "https://gemini.example",
        "api_key_env": "DEMO_GEMINI_KEY",
        "models": {"default": "gemini-flash"},
        "attributes": {"residency": "eu", "region": "europe-west4", "cloud": "gcp"},
    },
    {
        "id": "vllm-onprem",
        "adapter": "openai",
        "base_url": "http://vllm.internal.example:8000/v1",
        "models": {"default": "llama-3.1-8b"},
        "attributes": {"residency": "eu", "self_hosted": True, "cloud": "onprem"},
    },
]


@dataclass(frozen=True, slots=True)
class OpaServer:
    process: subprocess.Popen[bytes]
    url: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def opa_arguments(policy_dir: Path) -> list[str]:
    """The modules and data files of `policy_dir`, as the embedded engine reads them."""
    source = PolicySource.read(policy_dir)
    modules = [str(policy_dir / name) for name in sorted(source.modules)]
    data = [f"{stem}:{policy_dir / 'data' / f'{stem}.json'}" for stem in sorted(source.data)]
    return modules + data


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _start_once(policy_dir: Path) -> OpaServer | None:
    port = free_port()
    process = subprocess.Popen(
        [
            str(OPA_BINARY),
            "run",
            "--server",
            f"--addr=127.0.0.1:{port}",
            "--disable-telemetry",
            "--log-level=error",
            *opa_arguments(policy_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
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


def start_opa(policy_dir: Path = POLICY_DIR) -> OpaServer:
    """A real OPA server on a free loopback port, healthy when this returns."""
    for _ in range(START_ATTEMPTS):
        server = _start_once(policy_dir)
        if server is not None:
            return server
    raise RuntimeError(f"OPA failed to start after {START_ATTEMPTS} attempts")


def stop_opa(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    if process.stderr is not None:
        process.stderr.close()


@contextlib.contextmanager
def running_opa(policy_dir: Path = POLICY_DIR) -> Iterator[OpaServer]:
    server = start_opa(policy_dir)
    try:
        yield server
    finally:
        stop_opa(server.process)


def demo_catalog(scratch: Path) -> dict[str, Any]:
    """The demo providers exactly as the sidecar turns a validated config into policy input."""
    settings = parse_config(
        {
            "providers": DEMO_PROVIDERS,
            "audit": {"dir": str(scratch / "audit"), "signing_key_file": str(scratch / "key.pem")},
        }
    )
    return provider_catalog(settings)


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
