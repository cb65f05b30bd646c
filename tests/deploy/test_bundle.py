"""The signed policy bundle: built by deploy/bundle/build.sh, pulled and verified by a
real OPA configured as the Kubernetes and compose deployments configure it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import Decider, EmbeddedEngine, OpaEngine
from tests.decision._support import ENTRYPOINT, POLICY_DIR, context, demo_catalog
from tests.deploy._bundles import (
    BUILD_SCRIPT,
    BUNDLE_RESOURCE,
    KeyPair,
    Opa,
    build_bundle,
    bundle_members,
    bundle_server,
    compose_opa_config,
    k8s_opa_config,
    opa_pulling_bundles,
    repack,
    write_rsa_key_pair,
)

REVISION = "test-revision-1"
CONFIGS: dict[str, Callable[[], dict[str, Any]]] = {
    "k8s": k8s_opa_config,
    "compose": compose_opa_config,
}


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return write_rsa_key_pair(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory: pytest.TempPathFactory, key: KeyPair) -> Path:
    out = tmp_path_factory.mktemp("built") / "router.tar.gz"
    build_bundle(out, key, "--revision", REVISION)
    return out


@pytest.fixture
def served(tmp_path: Path, signed_bundle: Path) -> Path:
    """The bundle server's document root, holding a copy the test may alter."""
    root = tmp_path / "www"
    (root / "bundles").mkdir(parents=True)
    (root / BUNDLE_RESOURCE).write_bytes(signed_bundle.read_bytes())
    return root


@contextlib.contextmanager
def run_opa(
    root: Path, key: KeyPair, work: Path, config: dict[str, Any] | None = None
) -> Iterator[Opa]:
    """OPA with the deployment's config (k8s unless given), trusting `key` under its key id."""
    config = k8s_opa_config() if config is None else config
    (key_id,) = config["keys"]
    with (
        bundle_server(root) as url,
        opa_pulling_bundles(config, url, {key_id: key.public}, work) as opa,
    ):
        yield opa


@pytest.fixture
def opa(served: Path, key: KeyPair, tmp_path: Path) -> Iterator[Opa]:
    with run_opa(served, key, tmp_path) as opa:
        yield opa


@pytest.fixture
async def opa_decider(opa: Opa) -> AsyncIterator[Decider]:
    engine = OpaEngine(opa.url, ENTRYPOINT, timeout_ms=5000)
    yield Decider(engine, demo_catalog(), timeout_ms=5000)
    await engine.close()


def get(opa: Opa, path: str) -> Any:
    with urllib.request.urlopen(f"{opa.url}/v1/data/{path}", timeout=5) as response:
        return orjson.loads(response.read())


# Building


def test_bundle_holds_the_modules_without_tests_and_the_data_under_their_roots(
    signed_bundle: Path,
) -> None:
    members = bundle_members(signed_bundle)
    modules = {name for name in members if name.endswith(".rego")}
    assert modules == {f"router/{p.name}" for p in (POLICY_DIR / "router").glob("*.rego")} - {
        f"router/{p.name}" for p in (POLICY_DIR / "router").glob("*_test.rego")
    }
    data = {p.parent.name: json.loads(p.read_text()) for p in POLICY_DIR.glob("*/data.json")}
    assert set(data) >= {"tenants", "task_classes"}
    assert json.loads(members["data.json"]) == data


def test_manifest_claims_the_roots_and_carries_the_revision(signed_bundle: Path) -> None:
    manifest = json.loads(bundle_members(signed_bundle)[".manifest"])
    assert manifest["revision"] == REVISION
    assert sorted(manifest["roots"]) == ["router", "task_classes", "tenants"]


def test_bundle_is_signed_with_the_key_id_opa_trusts(signed_bundle: Path) -> None:
    token = json.loads(bundle_members(signed_bundle)[".signatures.json"])["signatures"][0]
    header = orjson.loads(_b64(token.split(".")[0]))
    assert header == {"alg": "RS256", "kid": "bundle-signing", "typ": "JWT"}
    assert list(k8s_opa_config()["keys"]) == ["bundle-signing"]


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_default_revision_is_a_content_hash_stable_across_builds(
    tmp_path: Path, key: KeyPair
) -> None:
    first = build_bundle(tmp_path / "a.tar.gz", key).stdout
    second = build_bundle(tmp_path / "b.tar.gz", key).stdout
    revision = json.loads(bundle_members(tmp_path / "a.tar.gz")[".manifest"])["revision"]
    assert revision.startswith("sha256-")
    assert f"revision={revision}" in first
    assert f"revision={revision}" in second


def test_build_refuses_to_run_without_a_signing_key(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BUILD_SCRIPT), "--out", str(tmp_path / "x.tar.gz")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--signing-key" in result.stderr
    assert not (tmp_path / "x.tar.gz").exists()


# Loading


@pytest.mark.parametrize("config", sorted(CONFIGS))
async def test_opa_activates_the_signed_bundle_with_the_deployments_config(
    served: Path, key: KeyPair, tmp_path: Path, config: str
) -> None:
    with run_opa(served, key, tmp_path, CONFIGS[config]()) as opa:
        opa.wait_until_bundles_active()
        engine = OpaEngine(opa.url, ENTRYPOINT, timeout_ms=5000)
        try:
            decision = await Decider(engine, demo_catalog(), 5000).decide(context("acme-eu"))
        finally:
            await engine.close()
        assert decision.revision == f"bundle:router@{REVISION}"
        assert decision.allowed


def test_tenants_land_at_data_tenants_as_the_embedded_engine_loads_them(opa: Opa) -> None:
    opa.wait_until_bundles_active()
    tenants = json.loads((POLICY_DIR / "tenants" / "data.json").read_text())
    assert get(opa, "tenants")["result"] == tenants
    assert "result" not in get(opa, "data")


async def test_bundle_decisions_equal_the_embedded_engines(opa: Opa, opa_decider: Decider) -> None:
    opa.wait_until_bundles_active()
    embedded = Decider(EmbeddedEngine(POLICY_DIR, ENTRYPOINT), demo_catalog(), 5000)
    for tenant, residency, tags in [
        ("acme-eu", None, ()),
        ("medibridge-us", None, ("phi",)),
        ("paystream", "eu", ("pci",)),
        ("globex", None, ("confidential",)),
        ("acme-eu", "us", ()),
    ]:
        ctx = context(tenant, residency, tags)
        remote = (await opa_decider.decide(ctx)).summary()
        local = (await embedded.decide(ctx)).summary()
        assert {**remote, "revision": None} == {**local, "revision": None}, ctx


# Rejecting


def _tamper(name: str, data: bytes) -> bytes | None:
    if name != "router/privacy.rego":
        return data
    at = data.index(b'"pci"')
    return data[:at] + b'"pcx"' + data[at + 5 :]


async def rejected(opa: Opa, needle: str) -> None:
    """OPA logs the rejection, keeps the bundle inactive, and the sidecar fails closed."""
    opa.wait_for_log(needle)
    assert opa.health("?bundles") == 500
    engine = OpaEngine(opa.url, ENTRYPOINT, timeout_ms=5000)
    try:
        with pytest.raises(PolicyUnavailable):
            await Decider(engine, demo_catalog(), 5000).decide(context("acme-eu"))
    finally:
        await engine.close()


async def test_a_bundle_with_one_changed_byte_in_a_policy_is_rejected(
    served: Path, key: KeyPair, tmp_path: Path
) -> None:
    repack(served / BUNDLE_RESOURCE, _tamper)
    with run_opa(served, key, tmp_path) as opa:
        await rejected(opa, "router/privacy.rego: digest mismatch")


async def test_a_bundle_signed_with_another_key_is_rejected(
    served: Path, key: KeyPair, tmp_path: Path
) -> None:
    other = write_rsa_key_pair(tmp_path / "other")
    build_bundle(served / BUNDLE_RESOURCE, other, "--revision", REVISION)
    with run_opa(served, key, tmp_path) as opa:
        await rejected(opa, "failed to verify JWT signature")


async def test_an_unsigned_bundle_is_rejected(served: Path, key: KeyPair, tmp_path: Path) -> None:
    repack(
        served / BUNDLE_RESOURCE, lambda name, data: None if name == ".signatures.json" else data
    )
    assert ".signatures.json" not in bundle_members(served / BUNDLE_RESOURCE)
    with run_opa(served, key, tmp_path) as opa:
        await rejected(opa, "bundle missing .signatures.json file")


# Rotating the signing key


async def test_during_a_key_rotation_opa_accepts_a_bundle_signed_with_the_new_key(
    served: Path, key: KeyPair, tmp_path: Path
) -> None:
    new = write_rsa_key_pair(tmp_path / "new")
    build_bundle(served / BUNDLE_RESOURCE, new, "--key-id", "bundle-signing-2")
    config = k8s_opa_config()
    config["keys"]["bundle-signing-2"] = {"algorithm": "RS256"}
    with (
        bundle_server(served) as url,
        opa_pulling_bundles(
            config, url, {"bundle-signing": key.public, "bundle-signing-2": new.public}, tmp_path
        ) as opa,
    ):
        opa.wait_until_bundles_active()


async def test_after_a_key_rotation_a_bundle_signed_with_a_removed_key_is_rejected(
    served: Path, tmp_path: Path
) -> None:
    new = write_rsa_key_pair(tmp_path / "new")
    config = k8s_opa_config()
    config["keys"] = {"bundle-signing-2": {"algorithm": "RS256"}}
    with (
        bundle_server(served) as url,
        opa_pulling_bundles(config, url, {"bundle-signing-2": new.public}, tmp_path) as opa,
    ):
        await rejected(opa, "verification key corresponding to ID bundle-signing not found")
