"""The sidecar and its fake providers on an event loop of their own thread.

schemathesis calls the API synchronously (requests), so what it calls runs beside it.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import FakeProvider, Protocol
from tests.sidecar import ProviderSpec, build_settings, start_sidecar


@dataclass(frozen=True)
class Fake:
    protocol: Protocol
    attributes: dict[str, Any] = field(default_factory=dict)
    priority: int = 100


class BackgroundSidecar:
    def __init__(
        self, workdir: Path, monkeypatch: pytest.MonkeyPatch, fakes: dict[str, Fake]
    ) -> None:
        self._workdir = workdir
        self._monkeypatch = monkeypatch
        self._specs = fakes
        self.fakes: dict[str, FakeProvider] = {}  # read from the test's thread, once started
        self._ready: Future[str] = Future()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            async with AsyncExitStack() as stack:
                specs = []
                for name, fake in self._specs.items():
                    provider = FakeProvider(fake.protocol, name=name)
                    self.fakes[name] = await stack.enter_async_context(provider)
                    specs.append(
                        ProviderSpec(name, provider, fake.attributes, priority=fake.priority)
                    )
                running = await start_sidecar(
                    build_settings(self._workdir, specs), self._monkeypatch
                )
                self._ready.set_result(running.url)
                await self._stop.wait()
                await running.stop()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    def start(self) -> str:
        self._thread.start()
        self.url = self._ready.result(timeout=30)
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)
