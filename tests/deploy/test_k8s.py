"""deploy/k8s: schema-valid manifests for a fleet of pods (app, sidecar and OPA each),
the Redis they share, and the witness following their shipped logs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from policy_engine._config import Settings, parse_config
from tests.decision._support import ROOT

K8S = ROOT / "deploy" / "k8s"
# The oldest Kubernetes minor still commonly run, and the newest the validator knows.
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def resource(kind: str, name: str | None = None) -> dict[str, Any]:
    for path in MANIFESTS:
        for document in documents(path):
            if document["kind"] == kind and name in (None, document["metadata"]["name"]):
                return document
    raise AssertionError(f"no {kind} {name}")


@pytest.fixture(scope="module")
def pod() -> dict[str, Any]:
    spec: dict[str, Any] = resource("StatefulSet", "llm-app")["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod["containers"]}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_against_the_kubernetes_schema(path: Path, version: str) -> None:
    for document in documents(path):
        kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_output_is_valid_and_puts_everything_in_the_namespace() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    resources = [d for d in yaml.safe_load_all(built) if d]
    secrets = len(documents(K8S / "secrets.yaml"))
    assert len(resources) == sum(len(documents(p)) for p in MANIFESTS) - secrets
    for document in resources:
        kubernetes_validate.validate(document, VERSIONS[-1], strict=True)
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "llm-app", document["kind"]


def test_kustomization_lists_every_manifest_but_the_placeholder_secrets() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in MANIFESTS if p.name != "secrets.yaml"
    )


def test_pod_holds_the_app_the_sidecar_and_opa(containers: dict[str, dict[str, Any]]) -> None:
    assert set(containers) == {"app", "policy-engine", "opa"}


def test_opa_is_the_pinned_official_image(containers: dict[str, dict[str, Any]]) -> None:
    assert containers["opa"]["image"] == "openpolicyagent/opa:1.22.2"


def test_sidecar_probes_healthz_for_liveness_and_readyz_for_readiness(
    containers: dict[str, dict[str, Any]],
) -> None:
    sidecar = containers["policy-engine"]
    assert "/healthz" in " ".join(sidecar["livenessProbe"]["exec"]["command"])
    assert "/readyz" in " ".join(sidecar["readinessProbe"]["exec"]["command"])


def test_opa_is_ready_only_with_its_bundle_active(containers: dict[str, dict[str, Any]]) -> None:
    assert containers["opa"]["readinessProbe"]["httpGet"]["path"] == "/health?bundles=true"


WORKLOADS = [("StatefulSet", "llm-app"), ("Deployment", "redis"), ("Deployment", "audit-witness")]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_every_container_has_requests_and_limits(kind: str, name: str) -> None:
    spec = resource(kind, name)["spec"]["template"]["spec"]
    for container in spec["containers"] + spec.get("initContainers", []):
        for kind_ in ("requests", "limits"):
            assert set(container["resources"][kind_]) == {"cpu", "memory"}, container["name"]


@pytest.mark.parametrize(("kind", "name"), WORKLOADS)
def test_every_container_is_non_root_read_only_and_drops_all_capabilities(
    kind: str, name: str
) -> None:
    spec = resource(kind, name)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] > 0
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in spec["containers"] + spec.get("initContainers", []):
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, container["name"]
        assert context["allowPrivilegeEscalation"] is False, container["name"]
        assert context["capabilities"]["drop"] == ["ALL"], container["name"]


@pytest.fixture(scope="module")
def sidecar_config() -> Settings:
    data = resource("ConfigMap", "policy-engine-config")["data"]["config.yaml"]
    return parse_config(yaml.safe_load(data), source="policy-engine-config")


def mounts(container: dict[str, Any]) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}


def volume(pod: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [v for v in pod["volumes"] if v["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_each_replica_writes_its_audit_log_on_a_volume_of_its_own(
    containers: dict[str, dict[str, Any]], sidecar_config: Settings
) -> None:
    name = mounts(containers["policy-engine"])[str(sidecar_config.audit.dir)]
    templates = resource("StatefulSet", "llm-app")["spec"]["volumeClaimTemplates"]
    (claim,) = [t for t in templates if t["metadata"]["name"] == name]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_audit_key_is_copied_0600_from_its_secret_into_memory(
    pod: dict[str, Any], containers: dict[str, dict[str, Any]], sidecar_config: Settings
) -> None:
    (init,) = pod["initContainers"]
    key_path = str(sidecar_config.audit.signing_key_file)
    assert init["command"][:3] == ["install", "-m", "0600"]
    assert init["command"][-1] == key_path
    keys = volume(pod, mounts(containers["policy-engine"])[str(Path(key_path).parent)])
    assert keys["emptyDir"]["medium"] == "Memory"
    source = volume(pod, mounts(init)[str(Path(init["command"][-2]).parent)])
    assert source["secret"]["secretName"] == "policy-engine-audit-signing-key"


def test_sidecar_config_is_valid_loopback_and_asks_the_pods_opa(sidecar_config: Settings) -> None:
    assert sidecar_config.server.host == "127.0.0.1"
    assert sidecar_config.policy.opa_url == "http://127.0.0.1:8181"


def test_provider_keys_are_files_from_the_mounted_secret(
    pod: dict[str, Any], containers: dict[str, dict[str, Any]], sidecar_config: Settings
) -> None:
    secret = resource("Secret", "policy-engine-provider-keys")
    mounted = mounts(containers["policy-engine"])
    for provider in sidecar_config.providers:
        path = provider.api_key_file
        assert path is not None and provider.api_key_env is None, provider.id
        assert (
            volume(pod, mounted[str(path.parent)])["secret"]["secretName"]
            == (secret["metadata"]["name"])
        )
        assert path.name in secret["stringData"], provider.id


def test_secret_manifests_hold_no_values() -> None:
    for document in documents(K8S / "secrets.yaml"):
        assert set(document["stringData"].values()) == {""}


def test_opa_verifies_bundles_with_the_key_it_is_given(
    containers: dict[str, dict[str, Any]],
) -> None:
    configmap = resource("ConfigMap", "opa-config")
    config = yaml.safe_load(configmap["data"]["config.yaml"])
    assert config["bundles"]["router"]["signing"] == {"exclude_files": []}
    (key_id,) = config["keys"]
    assert config["keys"][key_id]["algorithm"] == "RS256"
    args = containers["opa"]["args"]
    key_file = f"--set-file=keys.{key_id}.key=/config/bundle-signing.pub.pem"
    assert key_file in args
    assert "bundle-signing.pub.pem" in configmap["data"]
    assert "--addr=127.0.0.1:8181" in args


def test_network_policy_admits_only_the_app_port_and_limits_egress() -> None:
    policy = resource("NetworkPolicy", "llm-app")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 8000}]
    ports = sorted((p["protocol"], p["port"]) for rule in policy["egress"] for p in rule["ports"])
    assert ports == [("TCP", 53), ("TCP", 443), ("TCP", 6379), ("TCP", 8080), ("UDP", 53)]


def test_the_sidecars_share_the_redis_service(sidecar_config: Settings) -> None:
    redis = sidecar_config.fleet.redis
    assert redis is not None
    host_port = redis.url.split("//", 1)[1].split("/", 1)[0]
    service = resource("Service", "redis")["spec"]
    assert host_port == f"redis:{service['ports'][0]['port']}"
    assert service["selector"] == {"app.kubernetes.io/name": "redis"}
    assert sidecar_config.fleet.limits.enabled


def test_the_redis_password_is_a_mounted_secret_file(
    pod: dict[str, Any], containers: dict[str, dict[str, Any]], sidecar_config: Settings
) -> None:
    redis = sidecar_config.fleet.redis
    assert redis is not None and redis.password_file is not None
    mounted = volume(pod, mounts(containers["policy-engine"])[str(redis.password_file.parent)])
    assert mounted["secret"]["secretName"] == "policy-engine-redis"
    assert redis.password_file.name in resource("Secret", "policy-engine-redis")["stringData"]


def test_only_the_app_pods_may_reach_redis() -> None:
    policy = resource("NetworkPolicy", "redis")["spec"]
    (ingress,) = policy["ingress"]
    assert ingress["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "llm-app"}}}
    ]
    assert policy["egress"] == []


def test_each_replica_ships_under_its_own_origin(sidecar_config: Settings) -> None:
    shipping = sidecar_config.shipping
    assert shipping is not None and shipping.retention_mode == "COMPLIANCE"
    raw = yaml.safe_load(resource("ConfigMap", "policy-engine-config")["data"]["config.yaml"])
    assert "{replica}" in raw["audit"]["origin"]


def test_the_witness_follows_the_bucket_and_prefix_the_sidecars_ship_to(
    sidecar_config: Settings,
) -> None:
    shipping = sidecar_config.shipping
    assert shipping is not None
    spec = resource("Deployment", "audit-witness")["spec"]
    (witness,) = spec["template"]["spec"]["containers"]
    args = dict(arg.removeprefix("--").split("=", 1) for arg in witness["args"][2:])
    assert witness["args"][:2] == ["audit", "witness"]
    assert (args["bucket"], args["prefix"]) == (shipping.bucket, shipping.prefix)
    assert spec["replicas"] == 1


def test_the_witness_key_is_copied_0600_from_its_secret_into_memory() -> None:
    spec = resource("Deployment", "audit-witness")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert init["command"][:3] == ["install", "-m", "0600"]
    (witness,) = spec["containers"]
    assert f"--key={init['command'][-1]}" in witness["args"]
