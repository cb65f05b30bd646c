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
    "test-analyst": {"task_class": "analysis", "preference": ["openai-us", "anthropic-us"]},
    "test-strict": {"quality_floor": 88.5, "task_class": "autocomplete"},
    "test-odd-class": {"task_class": "poetry"},
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

# The same catalog with model facts, as provider_catalog builds them from the config:
# the same model on two providers, scores with and without decimals, a weak model
# without tools or vision, and one whose facts are only its name.
MODELS: dict[str, Any] = {
    "openai-us": {"model": "gpt-4o", "quality": 88.7, "context_window": 128000, "tools": True},
    "azure-openai-us": {"model": "gpt-4o", "quality": 88.7, "context_window": 128000},
    "azure-openai-eu": {"model": "gpt-4o-mini", "quality": 82.0, "vision": True},
    "anthropic-us": {"model": "claude-sonnet", "quality": 88.3, "context_window": 200000},
    "mistral-eu": {"model": "mistral-large", "quality": 84},
    "gemini-eu": {"model": "gemini-pro", "quality": 86.4, "price_per_1m_input": 1.25},
    "vllm-onprem": {
        "model": "llama-3-8b",
        "quality": 69,
        "context_window": 8192,
        "tools": False,
        "vision": False,
    },
    "legacy-unlabelled": {"model": "legacy"},
}
MODEL_CATALOG: dict[str, Any] = {
    pid: {**entry, "model_attributes": {"default": MODELS[pid]}} for pid, entry in CATALOG.items()
}


def routed(
    tenant: Any,
    residency: Any = None,
    tags: Any = (),
    providers: Any = CATALOG,
    **needs: Any,
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "request": {
            "residency": residency,
            "privacy_tags": list(tags) if isinstance(tags, tuple) else tags,
            "task_classes": [],
            "model": "default",
            "stream": False,
            "input_chars": 1234,
            "input_tokens": 320,
            "has_tools": False,
            "has_images": False,
            "protocol": "openai",
            **needs,
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
    "models-no-task-class": routed("sandbox", providers=MODEL_CATALOG),
    "models-analysis-header": routed("sandbox", providers=MODEL_CATALOG, task_classes=["analysis"]),
    "models-autocomplete-header": routed(
        "sandbox", providers=MODEL_CATALOG, task_classes=["Autocomplete "]
    ),
    "models-tenant-class-header-cannot-lower": routed(
        "test-analyst", providers=MODEL_CATALOG, task_classes=["autocomplete"]
    ),
    "models-tenant-floor-above-class": routed("test-strict", providers=MODEL_CATALOG),
    "models-unknown-class": routed("sandbox", providers=MODEL_CATALOG, task_classes=["poetry"]),
    "models-unknown-tenant-class": routed("test-odd-class", providers=MODEL_CATALOG),
    "models-malformed-classes": routed(
        "sandbox", providers=MODEL_CATALOG, task_classes=[7, None, ""]
    ),
    "models-without-facts-under-a-floor": routed("sandbox", task_classes=["summarize"]),
    "models-long-input-tools-images": routed(
        "sandbox", providers=MODEL_CATALOG, input_tokens=9216, has_tools=True, has_images=True
    ),
    "models-same-model-preference": routed("test-analyst", providers=MODEL_CATALOG),
    "models-globex-same-model": routed("globex", providers=MODEL_CATALOG),
    "embeddings-permissive-tenant": routed("sandbox", operation="embeddings"),
    "embeddings-health-tenant": routed("medibridge-us", operation="embeddings"),
    "embeddings-phi-header-on-zdr-catalog": routed(
        "sandbox", None, ("phi",), operation="embeddings"
    ),
    "embeddings-tenant-without-them": routed("paystream", operation="embeddings"),
    "responses-tenant-without-embeddings": routed("paystream", operation="responses"),
    "embeddings-ignore-quality-floor": routed(
        "test-analyst", providers=MODEL_CATALOG, operation="embeddings"
    ),
    "unknown-operation": routed("sandbox", operation="fine_tuning"),
    "non-string-operation": routed("paystream", operation=["embeddings"]),
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
        "quality: task class analysis needs a model scoring at least 85",
        "quality: tenant test-strict's quality floor needs a model scoring at least 88.5",
        "scores 82",
        "has no quality score",
        "task class poetry is not known to the policy",
        "capability: the request needs about 9216 input tokens",
        "does not support tool use",
        "does not accept images",
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
    # The same model on another provider follows the preferred one.
    assert any(d["preference"][:2] == ["openai-us", "azure-openai-us"] for d in decisions)
    assert {d["constraints"]["task_class"] for d in decisions} >= {"analysis", "autocomplete"}
