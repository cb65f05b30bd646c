"""Fixtures more than one test package needs: a real S3-compatible store (SeaweedFS), and
an environment without the runner's proxy variables."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from policy_engine.audit import ObjectStore
from tests.servers import S3Server, running_s3

_buckets = itertools.count()
_PROXY_VARIABLES = ("https_proxy", "http_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_from_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sidecar honours HTTPS_PROXY / HTTP_PROXY / NO_PROXY: a runner's own would send
    the tests' loopback traffic to its proxy. Tests about them set their own."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    """A fresh bucket with object lock enabled (and so versioning), as shipping requires."""
    name = f"audit-{next(_buckets)}"
    s3_server.client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return name


@pytest.fixture
def store(s3_server: S3Server, bucket: str) -> ObjectStore:
    """The shipping store: a fresh object-locked bucket in a real SeaweedFS."""
    return ObjectStore(s3_server.client(), bucket, "COMPLIANCE", 1)
