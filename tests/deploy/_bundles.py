"""Test support: signing keys, bundles built by deploy/bundle/build.sh, a loopback
bundle server, and a real OPA configured as in Kubernetes to pull and verify them.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import io
import queue
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.decision._support import OPA_BINARY, ROOT
from tests.ports import free_port

BUILD_SCRIPT = ROOT / "deploy" / "bundle" / "build.sh"
BUNDLE_RESOURCE = "bundles/router.tar.gz"
WAIT_S = 15.0
START_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class KeyPair:
    private: Path
    public: Path


def write_rsa_key_pair(directory: Path) -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = directory / "bundle-signing.pem"
    public = directory / "bundle-signing.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return KeyPair(private, public)


def build_bundle(out: Path, key: KeyPair, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUILD_SCRIPT), "--signing-key", str(key.private), "--out", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def bundle_members(bundle: Path) -> dict[str, bytes]:
    with tarfile.open(bundle) as archive:
        return {
            member.name.lstrip("/"): archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def repack(bundle: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """Rewrite the bundle with each member passed through `change` (None drops it)."""
    members = bundle_members(bundle)
    with tarfile.open(bundle, "w:gz") as archive:
        for name, data in members.items():
            changed = change(name, data)
            if changed is None:
                continue
            info = tarfile.TarInfo("/" + name)
            info.size = len(changed)
            archive.addfile(info, io.BytesIO(changed))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextlib.contextmanager
def bundle_server(root: Path) -> Iterator[str]:
    """A static HTTP server for `root` on a free loopback port, as the bundle server."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def k8s_opa_config() -> dict[str, Any]:
    """OPA's config exactly as the Kubernetes ConfigMap ships it."""
    configmap = yaml.safe_load((ROOT / "deploy" / "k8s" / "opa-config.yaml").read_text())
    config: dict[str, Any] = yaml.safe_load(configmap["data"]["config.yaml"])
    return config


def compose_opa_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(
        (ROOT / "deploy" / "compose" / "opa-config.yaml").read_text()
    )
    return config


@dataclass
class Opa:
    process: subprocess.Popen[str]
    url: str
    lines: queue.Queue[str]  # OPA's log, read by a thread so waits stay bounded
    reader: threading.Thread

    def health(self, query: str = "") -> int:
        try:
            with urllib.request.urlopen(f"{self.url}/health{query}", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def up(self) -> bool:
        try:
            self.health()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        return True

    def wait_for_log(self, needle: str) -> str:
        seen: list[str] = []
        deadline = time.monotonic() + WAIT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"OPA never logged {needle!r}; log:\n{''.join(seen)}")

    def wait_until_bundles_active(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.health("?bundles") == 200:
                return
            time.sleep(0.02)
        raise AssertionError("OPA did not activate the bundle")


def _pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def _stop(opa: Opa) -> None:
    if opa.process.poll() is None:
        opa.process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        opa.process.wait(timeout=10)
    # The reader ends at end of file, which the dead process gives it.
    opa.reader.join(timeout=10)
    if opa.process.stderr is not None:
        opa.process.stderr.close()


def _start(arguments: list[str]) -> Opa | None:
    """OPA listening on a free port, or None if the port was taken before OPA bound it."""
    port = free_port()
    process = subprocess.Popen(
        [str(OPA_BINARY), "run", "--server", f"--addr=127.0.0.1:{port}", *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_pump, args=(process.stderr, lines), daemon=True)
    reader.start()
    opa = Opa(process, f"http://127.0.0.1:{port}", lines, reader)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _stop(opa)
            return None
        if opa.up():
            return opa
        time.sleep(0.02)
    _stop(opa)
    raise AssertionError(f"OPA did not start within {WAIT_S}s")


@contextlib.contextmanager
def opa_pulling_bundles(
    config: dict[str, Any], server_url: str, public_keys: Mapping[str, Path], work: Path
) -> Iterator[Opa]:
    """OPA started as the Kubernetes Deployment starts it, pointed at `server_url`.

    `public_keys` maps each key id of the config's `keys` to its PEM file.
    """
    (service,) = config["services"]
    config_file = work / "opa-config.yaml"
    config_file.write_text(yaml.safe_dump(config))
    arguments = [
        f"--config-file={config_file}",
        *(f"--set-file=keys.{key_id}.key={path}" for key_id, path in public_keys.items()),
        f"--set=services.{service}.url={server_url}",
        f"--set=persistence_directory={work / 'opa-data'}",
        "--log-level=error",
        "--skip-version-check",
    ]
    for _ in range(START_ATTEMPTS):
        opa = _start(arguments)
        if opa is not None:
            break
    else:
        raise AssertionError(f"OPA failed to start {START_ATTEMPTS} times")
    try:
        yield opa
    finally:
        _stop(opa)
