"""A demo log written by a served sidecar, and the console served over it on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import uvicorn

from policy_engine._auth import Authenticator, CallerToken, token_digest
from policy_engine.audit import PUBLIC_KEY_NAME, load_public_key
from policy_engine.console import Console, LogIndex, Proposal, Sessions, create_console_app
from tests.impact._demo_log import DemoLog, drop_provider_policy, write_demo_log

AUDITOR_TOKEN = "console-test-auditor-token"  # synthetic
GLOBEX_TOKEN = "console-test-globex-token"  # synthetic, bound to tenant globex
PROPOSAL = "offboard-azure-us"


@dataclass
class ServedConsole:
    url: str
    console: Console
    log: DemoLog


@pytest.fixture(scope="package")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoLog]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        log = asyncio.run(write_demo_log(tmp_path_factory.mktemp("demo"), monkeypatch))
    drop_provider_policy(log.settings, log.config.parent / PROPOSAL)
    yield log


def build_console(log: DemoLog, index: str = ":memory:") -> Console:
    key = load_public_key(log.settings.audit.signing_key_file.parent / PUBLIC_KEY_NAME)
    proposal = Proposal(PROPOSAL, log.config.parent / PROPOSAL)
    console = Console(log.settings, [key], LogIndex(log.settings.audit.dir, index), [proposal])
    console.refresh_interval_s = 0.0
    return console


@contextlib.contextmanager
def serving(console: Console, sessions: Sessions) -> Iterator[str]:
    """The console app on a free loopback port, in a thread with its own event loop."""
    config = uvicorn.Config(
        create_console_app(console, sessions),
        host="127.0.0.1",
        port=0,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the console did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="package")
def served(demo_log: DemoLog) -> Iterator[ServedConsole]:
    """Open, as on loopback without caller tokens."""
    console = build_console(demo_log)
    with serving(console, Sessions(Authenticator([]))) as url:
        yield ServedConsole(url, console, demo_log)


@pytest.fixture(scope="package")
def guarded(demo_log: DemoLog) -> Iterator[ServedConsole]:
    """Behind the sidecar's caller tokens: an auditor's, and one bound to tenant globex."""
    tokens = [
        CallerToken("auditor", token_digest(AUDITOR_TOKEN), frozenset()),
        CallerToken("globex-app", token_digest(GLOBEX_TOKEN), frozenset({"globex"})),
    ]
    console = build_console(demo_log)
    with serving(console, Sessions(Authenticator(tokens))) as url:
        yield ServedConsole(url, console, demo_log)
