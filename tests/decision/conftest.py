"""Shared fixtures: one real OPA server for the session, a fake one per test, the demo catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.decision._support import ENTRYPOINT, FakeOpa, OpaServer, demo_catalog, running_opa


@pytest.fixture(scope="session")
def opa_server() -> Iterator[OpaServer]:
    with running_opa() as server:
        yield server


@pytest.fixture(scope="session")
def catalog() -> dict[str, Any]:
    return demo_catalog()


@pytest.fixture
async def fake_opa() -> AsyncIterator[FakeOpa]:
    fake = FakeOpa()
    app = web.Application()
    app.router.add_post(f"/v1/data/{ENTRYPOINT}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    fake.release.set()
    await runner.cleanup()
