"""deploy/compose: the sidecar pattern with OPA pulling the signed bundle."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from policy_engine._config import load_config
from tests.decision._support import ROOT

COMPOSE = ROOT / "deploy" / "compose"
OPA_IMAGE = "openpolicyagent/opa:1.22.2"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    document = yaml.safe_load((COMPOSE / "docker-compose.yaml").read_text())
    found: dict[str, Any] = document["services"]
    return found


def flag(command: list[str], name: str) -> str:
    (value,) = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"{name}=")]
    return value


def test_opa_is_the_pinned_official_image(services: dict[str, Any]) -> None:
    assert services["opa"]["image"] == OPA_IMAGE


def test_every_image_has_an_exact_version(services: dict[str, Any]) -> None:
    for name, service in services.items():
        tag = service["image"].rpartition(":")[2]
        assert tag != "latest" and any(ch.isdigit() for ch in tag), name


def test_opa_loads_its_config_file_and_the_bundle_verification_key(
    services: dict[str, Any],
) -> None:
    command = services["opa"]["command"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in services["opa"]["volumes"]}
    assert mounts[flag(command, "--config-file")] == "./opa-config.yaml"
    key_flag = flag(command, "--set-file")
    assert key_flag == "keys.bundle-signing.key=/config/bundle-signing.pub.pem"
    assert mounts["/config/bundle-signing.pub.pem"] == "./bundle-signing.pub.pem"


def test_opa_config_pulls_a_signed_bundle_from_the_bundle_server(
    services: dict[str, Any],
) -> None:
    config = yaml.safe_load((COMPOSE / "opa-config.yaml").read_text())
    bundle = config["bundles"]["router"]
    assert config["services"][bundle["service"]]["url"] == "http://bundle-server:8080"
    assert bundle["signing"] == {"exclude_files": []}
    assert list(config["keys"]) == ["bundle-signing"]
    assert "bundle-server" in services


def test_sidecar_and_opa_share_the_apps_network_namespace(services: dict[str, Any]) -> None:
    assert services["policy-engine"]["network_mode"] == "service:app"
    assert services["opa"]["network_mode"] == "service:app"
    assert flag(services["opa"]["command"], "--addr") == "127.0.0.1:8181"


def test_sidecar_config_is_valid_and_asks_the_local_opa(services: dict[str, Any]) -> None:
    mounts = {m.split(":")[1]: m.split(":")[0] for m in services["policy-engine"]["volumes"]}
    assert mounts["/etc/policy-engine/config.yaml"] == "./policy-engine.yaml"
    settings = load_config(COMPOSE / "policy-engine.yaml")
    assert settings.policy.opa_url == "http://127.0.0.1:8181"
    assert settings.server.host == "127.0.0.1"


def test_sidecar_runs_read_only_without_capabilities(services: dict[str, Any]) -> None:
    sidecar = services["policy-engine"]
    assert sidecar["read_only"] is True
    assert sidecar["cap_drop"] == ["ALL"]
    assert sidecar["build"]["dockerfile"] == "deploy/Dockerfile"


def test_provider_keys_come_from_the_environment_not_the_file(services: dict[str, Any]) -> None:
    environment = services["policy-engine"]["environment"]
    assert all(value.startswith("${") and value.endswith("}") for value in environment.values())
    keys = [name for name in environment if name.endswith("_API_KEY")]
    assert keys and all(environment[name].endswith(":-}") for name in keys)


def test_the_sidecar_shares_limits_and_circuits_through_the_redis_service(
    services: dict[str, Any],
) -> None:
    settings = load_config(COMPOSE / "policy-engine.yaml")
    assert settings.fleet.redis is not None
    assert settings.fleet.redis.url.startswith("redis://redis:6379/")
    assert settings.fleet.redis.password_env in services["policy-engine"]["environment"]
    assert "redis" in services["policy-engine"]["depends_on"]


def test_the_audit_log_ships_to_an_object_locked_bucket_the_witness_follows(
    services: dict[str, Any],
) -> None:
    shipping = load_config(COMPOSE / "policy-engine.yaml").shipping
    assert shipping is not None
    assert shipping.endpoint_url == "http://s3:8333"
    create = services["audit-bucket"]["command"][0]
    assert f"--bucket {shipping.bucket} --object-lock-enabled-for-bucket" in create
    witness = services["witness"]["command"]
    assert witness[:2] == ["audit", "witness"]
    assert flag(witness, "--bucket") == shipping.bucket
    assert flag(witness, "--prefix") == shipping.prefix
    assert flag(witness, "--endpoint-url") == shipping.endpoint_url


def test_the_witness_checks_the_sidecars_public_key_with_a_key_of_its_own(
    services: dict[str, Any],
) -> None:
    witness = services["witness"]
    log_key = flag(witness["command"], "--log-key")
    assert log_key.startswith("/var/lib/policy-engine/keys/")
    assert "audit-keys:/var/lib/policy-engine/keys:ro" in witness["volumes"]
    assert flag(witness["command"], "--key").startswith("/var/lib/witness/key/")
