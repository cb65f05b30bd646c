"""The signed bundle `deploy/bundle/build.sh` makes is the production policy: same decisions.

In production OPA loads the routing policy from a signed bundle, not from the policy
folder. These tests build that bundle with the real script, serve it from a real OPA
that verifies its signature, and hold its decisions to the embedded engine's.
"""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from policy_engine._context import RoutingContext
from policy_engine.decision import Decider, EmbeddedEngine, OpaEngine
from tests.decision._support import (
    ENTRYPOINT,
    OPA_BINARY,
    POLICY_DIR,
    OpaServer,
    context,
    running_opa,
)
from tests.deploy._bundles import build_bundle, write_rsa_key_pair
from tests.ports import free_port

KEY_ID = "bundle-signing"
REVISION = "test-rev-1"

CONTEXTS = [
    context("acme-eu"),
    context("acme-eu", "us"),
    context("medibridge-us", None, ("pii",)),
    context("paystream"),
    context("lexvault", None, ("phi",)),
    context("globex", "us"),
    context("sandbox", None, ("confidential", "other")),
    context("initech"),
]


@dataclass(frozen=True, slots=True)
class SignedBundle:
    path: Path
    public_key: Path


def verified_bundle_arguments(bundle: Path, public_key: Path) -> list[str]:
    return [
        f"--verification-key={public_key}",
        f"--verification-key-id={KEY_ID}",
        "--bundle",
        str(bundle),
    ]


@pytest.fixture(scope="module")
def signed_bundle(tmp_path_factory: pytest.TempPathFactory) -> SignedBundle:
    directory = tmp_path_factory.mktemp("bundle")
    key = write_rsa_key_pair(directory)
    bundle = directory / "router.tar.gz"
    build_bundle(bundle, key, "--key-id", KEY_ID, "--revision", REVISION, "--opa", str(OPA_BINARY))
    return SignedBundle(bundle, key.public)


@pytest.fixture(scope="module")
def bundle_server(signed_bundle: SignedBundle) -> Iterator[OpaServer]:
    arguments = verified_bundle_arguments(signed_bundle.path, signed_bundle.public_key)
    with running_opa(arguments) as server:
        yield server


@pytest.fixture
async def from_bundle(bundle_server: OpaServer, catalog: dict[str, Any]) -> AsyncIterator[Decider]:
    engine = OpaEngine(bundle_server.url, ENTRYPOINT, timeout_ms=5000)
    yield Decider(engine, catalog, timeout_ms=5000)
    await engine.close()


@pytest.fixture
def embedded(catalog: dict[str, Any]) -> Decider:
    return Decider(EmbeddedEngine(POLICY_DIR, ENTRYPOINT), catalog, timeout_ms=5000)


def test_bundle_holds_no_policy_unit_tests(signed_bundle: SignedBundle) -> None:
    with tarfile.open(signed_bundle.path) as archive:
        names = archive.getnames()
    assert any(name.endswith("decision.rego") for name in names)
    assert not [name for name in names if name.endswith("_test.rego")]


@pytest.mark.parametrize("routing", CONTEXTS, ids=lambda c: f"{c.tenant}-{c.residency}")
async def test_bundle_decision_equals_the_embedded_decision(
    routing: RoutingContext, from_bundle: Decider, embedded: Decider
) -> None:
    bundled = (await from_bundle.decide(routing)).model_dump(exclude={"revision"})
    assert bundled == (await embedded.decide(routing)).model_dump(exclude={"revision"})


async def test_bundle_decision_carries_the_bundle_revision(
    from_bundle: Decider, signed_bundle: SignedBundle
) -> None:
    decision = await from_bundle.decide(context("sandbox"))
    # A bundle loaded from a file is named after the path OPA was given.
    assert decision.revision == f"bundle:{signed_bundle.path}@{REVISION}"


def test_opa_refuses_a_bundle_signed_with_another_key(
    signed_bundle: SignedBundle, tmp_path: Path
) -> None:
    other_public = write_rsa_key_pair(tmp_path / "other").public
    command = [
        str(OPA_BINARY),
        "run",
        "--server",
        f"--addr=127.0.0.1:{free_port()}",
        "--skip-version-check",
        *verified_bundle_arguments(signed_bundle.path, other_public),
    ]
    refused = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
    assert "failed to verify JWT signature" in refused.stdout + refused.stderr
