"""Real servers the fleet tests need, started on free loopback ports in a temp dir.

Redis is Debian's `redis-server` (`make setup` installs it when missing); the
S3-compatible store is SeaweedFS built from the Go module proxy into tools/bin
(`make tools/bin/weed`). Both run as child processes the tests own and stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.ports import free_port

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parents[1]
WEED = ROOT / "tools" / "bin" / "weed"
S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key-for-the-local-store"  # a local test store, not a secret


def _wait(condition_met: object, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log.read_text(errors='replace')[-2000:]}")
        if condition_met():  # type: ignore[operator]
            return
        time.sleep(0.05)  # polling a condition with a bound, not a guess
    raise RuntimeError(f"{what} did not start:\n{log.read_text(errors='replace')[-2000:]}")


class RedisServer:
    """One redis-server; `kill`, `pause` and `restart` are the faults the tests inject."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make setup` (apt installs it)")
        self._binary = binary
        self._directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = self._directory / "redis.log"
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    self._binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(self._directory),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--protected-mode",
                    "yes",
                ],
                stdout=sink,
                stderr=sink,
            )
        _wait(self._answers, self.process, "redis-server", log)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, nothing answers (a hung server)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def running_redis(directory: Path) -> Iterator[RedisServer]:
    server = RedisServer(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class S3Server:
    """SeaweedFS in one process (`weed mini`-style master, volume, filer and S3 gateway)."""

    def __init__(self, directory: Path) -> None:
        if not WEED.is_file():
            pytest.fail(f"SeaweedFS is not built at {WEED}: run `make tools/bin/weed`")
        self._directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> S3Client:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def start(self) -> None:
        data = self._directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = self._directory / "s3.json"
        identity = {
            "name": "test",
            "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}))
        ports = [free_port() for _ in range(7)]
        log = self._directory / "weed.log"
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                [
                    str(WEED),
                    "server",
                    f"-dir={data}",
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    f"-master.port={ports[0]}",
                    f"-master.port.grpc={ports[1]}",
                    f"-volume.port={ports[2]}",
                    f"-volume.port.grpc={ports[3]}",
                    f"-filer.port={ports[4]}",
                    f"-filer.port.grpc={ports[5]}",
                    "-s3",
                    f"-s3.port={self.port}",
                    f"-s3.port.grpc={ports[6]}",
                    # Off: they would take fixed ports (8181, 9101) other servers use.
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                    f"-s3.config={config}",
                    "-volume.max=400",
                    "-master.volumeSizeLimitMB=8",
                    "-volume.preStopSeconds=0",
                ],
                stdout=sink,
                stderr=sink,
                env={**os.environ, "GOMAXPROCS": "2"},
            )
        _wait(self._answers, self.process, "SeaweedFS", log)

    def _answers(self) -> bool:
        try:
            self.client().list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@contextlib.contextmanager
def running_s3(directory: Path) -> Iterator[S3Server]:
    server = S3Server(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
