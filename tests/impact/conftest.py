"""One demo log per module: writing it takes a served sidecar and seven fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.impact._demo_log import DemoLog, write_demo_log


@pytest.fixture(scope="module")
def shared_demo_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoLog]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield asyncio.run(write_demo_log(tmp_path_factory.mktemp("demo"), monkeypatch))
