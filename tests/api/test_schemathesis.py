"""schemathesis against the sidecar's own OpenAPI document, on a real sidecar.

schemathesis calls the API synchronously (requests), so the sidecar and its fake
provider run on their own event loop in a background thread for the module. Every
generated request must get an answer the document describes: no server error, a
documented status code and content type, a body matching the response schema.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from policy_engine.api._openapi import openapi_document
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, build_settings, start_sidecar

schema = schemathesis.openapi.from_dict(openapi_document())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class BackgroundSidecar:
    """A sidecar and one fake provider on an event loop of their own thread."""

    def __init__(self, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self._workdir = workdir
        self._monkeypatch = monkeypatch
        self._ready: Future[str] = Future()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with FakeProvider("openai", name="alpha") as fake:
                config = build_settings(
                    self._workdir, [ProviderSpec("alpha", fake, attributes={"residency": "eu"})]
                )
                running = await start_sidecar(config, self._monkeypatch)
                self._ready.set_result(running.url)
                await self._stop.wait()
                await running.stop()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    def start(self) -> str:
        self._thread.start()
        return self._ready.result(timeout=30)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        sidecar = BackgroundSidecar(tmp_path_factory.mktemp("schemathesis"), monkeypatch)
        url = sidecar.start()
        yield url
        sidecar.stop()


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_conforms_to_the_openapi_document(
    case: schemathesis.Case, base_url: str
) -> None:
    case.call_and_validate(base_url=base_url, checks=CHECKS, timeout=30)
