"""A raw HTTP client for the module's own `sidecar` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.sidecar import RunningSidecar


@pytest.fixture
async def http(sidecar: RunningSidecar) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=10) as client:
        yield client
