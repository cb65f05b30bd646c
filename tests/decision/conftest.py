"""Shared fixtures: one real OPA server for the session, the demo provider catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.decision._support import OpaServer, demo_catalog, running_opa


@pytest.fixture(scope="session")
def opa_server() -> Iterator[OpaServer]:
    with running_opa() as server:
        yield server


@pytest.fixture(scope="session")
def catalog() -> dict[str, Any]:
    return demo_catalog()
