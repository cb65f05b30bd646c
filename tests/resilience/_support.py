"""A small deployment with known gaps: the shipped Rego rules over synthetic tenants.

- `spread`: may use both EU providers, which sit in two clouds → no single point of failure.
- `pinned`: may only use `aws-eu` → a single point of failure for every constraint.
- `martian`: bound to a residency no provider offers → no provider at all.
Two providers share aws/eu-west-1 to show that sharing a region is one failure domain.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from policy_engine._config import Settings, load_config

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_RULES = ROOT / "policies" / "router"

TENANTS: dict[str, Any] = {
    "spread": {"residency": "eu", "privacy_tags": []},
    "pinned": {"residency": None, "privacy_tags": [], "allow_providers": ["aws-eu"]},
    "martian": {"residency": "mars", "privacy_tags": []},
}


def _provider(pid: str, cloud: str, region: str, sla: float | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {"residency": "eu", "cloud": cloud, "region": region}
    if sla is not None:
        attributes["sla"] = sla
    return {
        "id": pid,
        "adapter": "openai",
        "base_url": f"http://127.0.0.1:9/{pid}",
        "models": {"default": "m"},
        "attributes": attributes,
    }


PROVIDERS = [
    _provider("aws-eu", "aws", "eu-west-1", 0.99),
    _provider("aws-eu-2", "aws", "eu-west-1", 0.95),
    _provider("gcp-eu", "gcp", "europe-west4", 0.99),
]


def resilient_deployment(root: Path) -> Path:
    """Two domains that meet every shipped tag, one tenant: no gap anywhere."""
    providers = [
        _provider("aws-eu", "aws", "eu-west-1", 0.99),
        _provider("gcp-eu", "gcp", "x", 0.99),
    ]
    for provider in providers:
        provider["attributes"].update(
            certifications=["hipaa_baa"], zero_data_retention=True, self_hosted=True
        )
    return write_deployment(root, providers=providers, tenants={"any": {"residency": None}})


def write_deployment(
    root: Path,
    providers: list[dict[str, Any]] | None = None,
    opa_url: str | None = None,
    tenants: dict[str, Any] | None = None,
    embeddings: dict[str, Any] | None = None,
) -> Path:
    """A policy directory and a config file under `root`; returns the config path."""
    policy_dir = root / "policies"
    (policy_dir / "router").mkdir(parents=True)
    for module in SHIPPED_RULES.glob("*.rego"):
        if not module.name.endswith("_test.rego"):
            shutil.copy(module, policy_dir / "router" / module.name)
    (policy_dir / "tenants").mkdir()
    (policy_dir / "tenants" / "data.json").write_text(
        json.dumps(TENANTS if tenants is None else tenants)
    )
    policy: dict[str, Any] = {"policy_dir": "policies", "timeout_ms": 5000}
    if opa_url is not None:
        policy["opa_url"] = opa_url
    config = {
        "policy": policy,
        "providers": PROVIDERS if providers is None else providers,
        "audit": {"dir": "audit", "signing_key_file": "audit.pem"},
    }
    if embeddings is not None:
        config["embeddings"] = embeddings
    path = root / "policy-engine.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def settings_for(root: Path) -> Settings:
    return load_config(write_deployment(root))
