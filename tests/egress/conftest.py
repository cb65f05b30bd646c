"""A real squid and nginx for the egress tests, started once for the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.egress._servers import HOSTS, Nginx, Squid
from tests.egress._support import Pki, Sidecar
from tests.pki import CertificateAuthority
from tests.ports import free_port


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("egress-pki")
    ca, other = CertificateAuthority(directory, "trusted"), CertificateAuthority(directory, "other")
    names = [*HOSTS, "localhost", "127.0.0.1"]
    return Pki(
        ca.bundle,
        other.bundle,
        {
            "good": ca.issue("good", names),
            "expired": ca.issue("expired", names, expired=True),
            "other-host": ca.issue("other-host", ["elsewhere.egress.test"]),
            "other-ca": other.issue("other-ca", names),
        },
    )


@pytest.fixture(scope="session")
def squid() -> Iterator[Squid]:
    server = Squid()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def upstream_port() -> int:
    """Where each test starts the fake provider that nginx fronts."""
    return free_port()


@pytest.fixture
def sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upstream_port: int) -> Sidecar:
    return Sidecar(tmp_path, monkeypatch, upstream_port)


@pytest.fixture(scope="session")
def nginx(
    tmp_path_factory: pytest.TempPathFactory, pki: Pki, upstream_port: int
) -> Iterator[Nginx]:
    server = Nginx(tmp_path_factory.mktemp("nginx"), pki.sites, upstream_port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
