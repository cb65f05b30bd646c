"""An audit log written the way `make demo` writes one: the demo config, its fakes on free
ports, the real sidecar over loopback, and a mix of tenants, headers and models (one
provider failing first, so some requests fall back)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import Settings, parse_config
from policy_engine.audit import write_key_pair
from tests.fakes import FakeProvider, ServerError
from tests.sidecar import start_sidecar

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "deploy" / "demo"
DEMO_KEY = "demo-key"
# Synthetic PII, so the records carry redaction counts.
PROMPT = "Write to jane.roe@example.org or call +44 20 7946 0958 about the renewal."

# tenant, X-Data-Residency, X-Privacy-Tags, model alias
TRAFFIC: list[tuple[str, str | None, str, str]] = [
    ("acme-eu", None, "pii", "default"),
    ("acme-eu", None, "pii", "default"),
    ("acme-eu", None, "pii", "default"),
    ("acme-eu", "eu", "", "smart"),
    ("medibridge-us", None, "phi", "default"),
    ("medibridge-us", None, "phi", "default"),
    ("medibridge-us", None, "phi", "smart"),
    ("globex", None, "", "default"),
    ("globex", None, "", "default"),
    ("globex", "us", "", "default"),
    ("globex", None, "phi", "default"),
    ("paystream", None, "pci", "default"),
    ("lexvault", None, "confidential", "default"),
    ("sandbox", None, "", "default"),
    ("sandbox", "us", "phi", "smart"),
    ("unknown-co", None, "", "default"),
    ("acme-eu", "us", "", "default"),
]


@dataclass(frozen=True)
class Sent:
    request_id: str
    tenant: str
    residency: str | None
    tags: str
    model: str
    status: int


@dataclass
class DemoLog:
    settings: Settings
    config: Path  # the demo config on this log's ports and folders
    sent: list[Sent]


def demo_raw_config(tmp_path: Path) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((DEMO / "policy-engine.yaml").read_text())
    raw["server"]["port"] = 0
    raw["policy"]["policy_dir"] = str((DEMO / raw["policy"]["policy_dir"]).resolve())
    raw["audit"]["dir"] = str(tmp_path / "audit")
    raw["audit"]["signing_key_file"] = str(tmp_path / "keys" / "audit-signing-key.pem")
    raw["audit"]["checkpoint_every_records"] = 8
    return raw


async def write_demo_log(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    traffic: list[tuple[str, str | None, str, str]] = TRAFFIC,
) -> DemoLog:
    raw = demo_raw_config(tmp_path)
    write_key_pair(tmp_path / "keys", Ed25519PrivateKey.generate())
    fakes: dict[str, FakeProvider] = {}
    for provider in raw["providers"]:
        options = provider.setdefault("options", {})
        fake = FakeProvider(
            provider["adapter"],
            name=provider["id"],
            api_key=DEMO_KEY,
            region=options.get("region"),
        )
        await fake.start()
        fakes[provider["id"]] = fake
        parts = urlsplit(provider["base_url"])
        port = urlsplit(fake.base_url).port
        provider["base_url"] = urlunsplit(parts._replace(netloc=f"127.0.0.1:{port}"))
        if "api_key_env" in provider:
            monkeypatch.setenv(provider["api_key_env"], DEMO_KEY)
        # Bedrock's fake checks SigV4 with the key start_sidecar sets; Vertex AI's issues
        # tokens to the service-account key it wrote.
        options.update(fake.options())
    # mistral-eu, acme-eu's first choice, fails twice: those requests fall back.
    fakes["mistral-eu"].script(ServerError(), ServerError(), ServerError(), ServerError())
    config = tmp_path / "demo.yaml"
    config.write_text(yaml.safe_dump(raw))
    settings = parse_config(yaml.safe_load(config.read_text()), source=str(config))
    running = await start_sidecar(settings, monkeypatch)
    sent: list[Sent] = []
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            for tenant, residency, tags, model in traffic:
                headers = {"X-Tenant-ID": tenant, "X-Privacy-Tags": tags}
                if residency:
                    headers["X-Data-Residency"] = residency
                body = {"model": model, "messages": [{"role": "user", "content": PROMPT}]}
                response = await http.post("/v1/chat/completions", json=body, headers=headers)
                request_id = response.headers["x-request-id"]
                sent.append(Sent(request_id, tenant, residency, tags, model, response.status_code))
            await http.post("/v1/chat/completions", json={"model": "default"})  # no tenant
    finally:
        await running.stop()
        for fake in fakes.values():
            await fake.stop()
    return DemoLog(settings, config, sent)


def copy_policies(settings: Settings, to: Path) -> Path:
    """A proposal to edit: a copy of the policy directory the log was written under."""
    shutil.copytree(settings.policy.policy_dir, to, ignore=shutil.ignore_patterns("*_test.rego"))
    return to


OFFBOARD = """package router

# Offboarding: azure-openai-us no longer receives any request.
denial contains [id, "vendor: azure-openai-us is being offboarded"] if {
	some id, _ in providers
	id == "azure-openai-us"
}
"""


def drop_provider_policy(settings: Settings, to: Path) -> Path:
    proposed = copy_policies(settings, to)
    (proposed / "router" / "offboard.rego").write_text(OFFBOARD)
    return proposed
