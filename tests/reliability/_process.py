"""The sidecar as a real process (`policy-engine serve`), for crashes and long runs.

In-process sidecars cannot be killed with SIGKILL; this one can. The fakes it calls
stay in the caller's process, so they still record what reached them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from policy_engine._config import Settings
from policy_engine.audit import PUBLIC_KEY_NAME
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "policy-engine"
# Liveness bounds, not speed: on a loaded 2-core machine one start (importing the
# package, opening the log, its writer process) takes tens of seconds of wall time,
# and a start that is killed for being slow and tried again never finishes.
START_TIMEOUT_S = 240.0
START_ATTEMPTS = 3  # a start whose port was taken between probe and bind exits at once
STOP_TIMEOUT_S = 120.0
VERIFY_TIMEOUT_S = 300.0


class SidecarProcess:
    def __init__(self, settings: Settings, workdir: Path, env: dict[str, str]) -> None:
        self.settings = settings
        self.config = workdir / "policy-engine.yaml"
        self.log = workdir / "sidecar.log"  # stdout and stderr, appended across restarts
        self._env = {**os.environ, **env}
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.config.write_text(yaml.safe_dump(settings.model_dump(mode="json")))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        for _ in range(START_ATTEMPTS):
            if await self._start_once():
                return
        raise RuntimeError(f"the sidecar did not start:\n{self.log_tail()}")

    async def _start_once(self) -> bool:
        """True once it answers; False if it exited (most likely the port was taken)."""
        self.process = self._spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as http:
            while self.process.poll() is None:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        f"the sidecar did not answer in {START_TIMEOUT_S:g} s:\n{self.log_tail()}"
                    )
                await asyncio.sleep(0.1)  # polling a condition with a bound, not a guess
        return False

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.port = free_port()
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [str(CLI), "serve", "--config", str(self.config), "--port", str(self.port)],
                stdout=log,
                stderr=log,
                env=self._env,
                cwd=ROOT,
            )

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in an OOM kill or a node crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def log_tail(self, size: int = 3000) -> str:
        return self.log.read_bytes()[-size:].decode(errors="replace")

    def verify(self) -> subprocess.CompletedProcess[str]:
        """`policy-engine audit verify`, exactly as an auditor runs it."""
        public = self.settings.audit.signing_key_file.parent / PUBLIC_KEY_NAME
        return subprocess.run(
            [
                str(CLI),
                "audit",
                "verify",
                str(self.settings.audit.dir),
                "--public-key",
                str(public),
            ],
            capture_output=True,
            text=True,
            timeout=VERIFY_TIMEOUT_S,
        )
