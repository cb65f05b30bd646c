"""Shared fixtures: the conformance vectors folder, a signing key on disk, log settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import AuditSettings, write_key_pair

# Copied into the repository (see vectors/README.md): tests never read outside it.
VECTORS = Path(__file__).resolve().parent / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"conformance vectors missing: expected them at {VECTORS.resolve()}")
    return VECTORS


@pytest.fixture
def key_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "keys"
    write_key_pair(directory, Ed25519PrivateKey.generate())
    return directory


@pytest.fixture
def settings(tmp_path: Path, key_dir: Path) -> AuditSettings:
    return AuditSettings(
        dir=tmp_path / "log",
        signing_key_file=key_dir / "audit-signing-key.pem",
        batch_interval_ms=0.5,
    )
