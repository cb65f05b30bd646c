"""Fixtures more than one test package needs: a real S3-compatible store (SeaweedFS)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from policy_engine.audit import ObjectStore
from tests.servers import S3Server, running_s3

_buckets = itertools.count()


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
