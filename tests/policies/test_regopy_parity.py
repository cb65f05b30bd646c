"""The routing policy gives the same decision in regopy (in-process) as in real OPA.

Every input in the table is evaluated by both engines against the shipped policy
and data (plus a few test-only tenants that reach rules the shipped data cannot),
and the two decisions must be equal.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regopy

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policies"
OPA = ROOT / "tools" / "bin" / "opa"
ENTRYPOINT = "router/decision"

if not OPA.is_file():
    pytest.skip(f"real OPA binary not found at {OPA}", allow_module_level=True)

# Tenants that exist only here: each reaches a branch no shipped tenant should.
TEST_TENANTS: dict[str, Any] = {
    "test-unknown-entity": {"redact_extra": ["PASSPORT_NUMBER"]},
    "test-odd-tag": {"privacy_tags": ["biometric"]},
    "test-malformed": {
        "residency": "  ",
        "privacy_tags": "phi",
        "deny_providers": "openai-us",
        "preference": ["vllm-onprem", "vllm-onprem", "nowhere"],
        "allow_refusal_fallback": "yes",
    },
    "test-not-an-object": ["eu"],
}

CATALOG: dict[str, Any] = {
    "openai-us": {
        "adapter": "openai",
        "models": ["default", "smart"],
        "attributes": {
            "residency": "us",
            "region": "us-east-1",
            "cloud": "openai",
            "certifications": ["soc2"],
            "zero_data_retention": False,
            "self_hosted": False,
            "price_per_1m_input": 0.15,
            "price_per_1m_output": 0.6,
            "sla": 0.999,
        },
    },
    "azure-openai-us": {
        "adapter": "azure_openai",
        "models": ["default"],
        "attributes": {
            "residency": "us",
            "region": "eastus2",
            "cloud": "azure",
            "certifications": ["soc2", "hipaa_baa"],
            "zero_data_retention": True,
            "self_hosted": False,
        },
    },
    "azure-openai-eu": {
        "adapter": "azure_openai",
        "models": ["default"],
        "attributes": {
            "residency": "EU",
            "region": "swedencentral",
            "cloud": "azure",
            "certifications": ["soc2", "iso27001", "hipaa_baa"],
            "zero_data_retention": False,
        },
    },
    "anthropic-us": {
        "adapter": "anthropic",
        "models": ["default", "smart"],
        "attributes": {
            "residency": "us",
            "certifications": ["soc2", "hipaa_baa"],
            "zero_data_retention": True,
            "self_hosted": False,
        },
    },
    "mistral-eu": {
        "adapter": "openai",
        "models": ["default"],
        "attributes": {"residency": "eu", "certifications": ["soc2"], "zero_data_retention": True},
    },
    "gemini-eu": {
        "adapter": "gemini",
        "models": ["default"],
        "attributes": {"residency": "eu", "region": "europe-west4", "cloud": "gcp"},
    },
    "vllm-onprem": {
        "adapter": "openai",
        "models": ["default"],
        "attributes": {"residency": "eu", "self_hosted": True, "certifications": []},
    },
    "legacy-unlabelled": {"adapter": "openai", "models": ["default"]},
}


def routed(
    tenant: Any,
    residency: Any = None,
    tags: Any = (),
    providers: Any = CATALOG,
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "request": {
            "residency": residency,
            "privacy_tags": list(tags) if isinstance(tags, tuple) else tags,
            "model": "default",
            "stream": False,
            "input_chars": 1234,
            "protocol": "openai",
        },
        "providers": providers,
    }


CASES: dict[str, dict[str, Any]] = {
    "eu-tenant-no-headers": routed("acme-eu"),
    "eu-tenant-same-residency-header": routed("acme-eu", "EU"),
    "eu-tenant-tries-us-header": routed("acme-eu", "us"),
    "eu-tenant-adds-phi": routed("acme-eu", None, ("phi",)),
    "health-tenant-no-headers": routed("medibridge-us"),
    "health-tenant-empty-tags-header": routed("medibridge-us", None, ()),
    "health-tenant-tries-eu-header": routed("medibridge-us", "eu", ("pii",)),
    "payments-tenant": routed("paystream"),
    "payments-tenant-eu-header": routed("paystream", "eu"),
    "confidential-tenant": routed("lexvault"),
    "confidential-tenant-adds-phi": routed("lexvault", None, ("phi",)),
    "lists-tenant": routed("globex"),
    "lists-tenant-adds-pci": routed("globex", None, ("pci",)),
    "lists-tenant-us-header": routed("globex", "us"),
    "permissive-tenant": routed("sandbox"),
    "permissive-tenant-eu-header": routed("sandbox", "eu"),
    "permissive-tenant-blank-header": routed("sandbox", " "),
    "permissive-tenant-every-tag": routed("sandbox", None, ("pii", "phi", "pci", "confidential")),
    "permissive-tenant-messy-tags": routed("sandbox", None, [" PHI ", "", 7, None]),
    "permissive-tenant-unknown-tag": routed("sandbox", None, ("gdpr_special",)),
    "unknown-tenant": routed("initech"),
    "unknown-tenant-with-headers": routed("initech", "eu", ("phi",)),
    "null-tenant": routed(None),
    "unknown-entity-tenant": routed("test-unknown-entity"),
    "unknown-tag-tenant": routed("test-odd-tag"),
    "malformed-tenant": routed("test-malformed"),
    "non-object-tenant": routed("test-not-an-object"),
    "no-providers": routed("acme-eu", providers={}),
    "providers-not-an-object": routed("sandbox", providers=["openai-us"]),
    "request-not-an-object": {"tenant": "sandbox", "request": "eu", "providers": CATALOG},
    "empty-input": {},
    "budget-used-up": {**routed("sandbox"), "budget": {"exhausted": ["cost_per_day_usd"]}},
    "budget-two-used-up": {
        **routed("acme-eu"),
        "budget": {"exhausted": ["cost_per_month_usd", "cost_per_day_usd"], "remaining": {}},
    },
    "budget-malformed": {**routed("sandbox"), "budget": {"exhausted": "cost_per_day_usd"}},
    "budget-not-an-object": {**routed("sandbox"), "budget": ["cost_per_day_usd"]},
    "non-ascii-ids": routed(
        "sandbox", "eu", providers={"prüf-eu": {"attributes": {"residency": "eu"}}}
    ),
}


def policy_data() -> dict[str, Any]:
    data = {
        p.parent.name: json.loads(p.read_text()) for p in sorted(POLICY_DIR.glob("*/data.json"))
    }
    data["tenants"] = {**data.get("tenants", {}), **TEST_TENANTS}
    return data


def policy_modules() -> Iterator[Path]:
    return (p for p in sorted(POLICY_DIR.rglob("*.rego")) if not p.name.endswith("_test.rego"))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("policy-data")
    for stem, value in policy_data().items():
        (directory / f"{stem}.json").write_text(json.dumps(value))
    return directory


@pytest.fixture(scope="module")
def regopy_engine() -> tuple[regopy.Interpreter, regopy.Bundle]:
    interpreter = regopy.Interpreter()
    for path in policy_modules():
        interpreter.add_module(str(path.relative_to(ROOT)), path.read_text())
    interpreter.add_data(policy_data())
    return interpreter, interpreter.build(None, [ENTRYPOINT])


def opa_decision(data_dir: Path, tmp_path: Path, value: dict[str, Any]) -> Any:
    input_file = tmp_path / "input.json"
    input_file.write_text(json.dumps(value))
    # The "stem:path" prefix mounts each data file at data.<stem>, the layout the
    # sidecar uses; a plain directory load would nest it under data.data.
    data_args = [f"--data={p.stem}:{p}" for p in sorted(data_dir.glob("*.json"))]
    result = subprocess.run(
        [
            str(OPA),
            "eval",
            "--format=json",
            "--data",
            str(POLICY_DIR / "router"),
            *data_args,
            "--input",
            str(input_file),
            "data.router.decision",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(result.stdout)["result"][0]["expressions"][0]["value"]


def regopy_decision(engine: tuple[regopy.Interpreter, regopy.Bundle], value: dict[str, Any]) -> Any:
    interpreter, bundle = engine
    interpreter.set_input(value)
    output = interpreter.query_bundle_entrypoint(bundle, ENTRYPOINT)
    # expressions() aborts the process on a failed output, so check first.
    assert output.ok(), str(output)
    return json.loads(output.expressions().json())[0]


@pytest.mark.parametrize("value", CASES.values(), ids=CASES.keys())
def test_regopy_decision_equals_opa_decision(
    value: dict[str, Any],
    regopy_engine: tuple[regopy.Interpreter, regopy.Bundle],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    assert regopy_decision(regopy_engine, value) == opa_decision(data_dir, tmp_path, value)


def test_table_reaches_every_kind_of_denial(
    regopy_engine: tuple[regopy.Interpreter, regopy.Bundle],
) -> None:
    reasons = {
        reason
        for value in CASES.values()
        for reasons in regopy_decision(regopy_engine, value)["denied"].values()
        for reason in reasons
    }
    expected_fragments = [
        "unknown tenant",
        "a header may not change a tenant's residency",
        "provider processes data in",
        "provider does not declare where it processes data",
        "privacy: phi",
        "privacy: pci",
        "privacy: confidential",
        "is not known to the policy",
        "allow list",
        "deny list",
        "which is not a known entity type",
    ]
    missing = [f for f in expected_fragments if not any(f in r for r in reasons)]
    assert missing == []


def test_table_reaches_every_obligation(
    regopy_engine: tuple[regopy.Interpreter, regopy.Bundle],
) -> None:
    decisions = [regopy_decision(regopy_engine, value) for value in CASES.values()]
    redactions = [set(types) for d in decisions for types in d["obligations"]["redact"].values()]
    assert {"SECRET"} in redactions
    assert any({"PERSON", "LOCATION", "EMAIL_ADDRESS"} <= r for r in redactions)
    assert any(d["obligations"]["allow_refusal_fallback"] for d in decisions)
    assert any(len(d["preference"]) > 1 for d in decisions)
