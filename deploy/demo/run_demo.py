"""`make demo`: local fake providers on the ports of policy-engine.yaml, then the sidecar,
and the read-only console over its audit log on a free loopback port.

The fakes speak each provider's real wire format (the same ones the test suite uses)
and echo the user's last message, so the demo shows redaction and restoration.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the fakes live in tests/

from policy_engine._config import Settings, load_config  # noqa: E402
from policy_engine.audit import PUBLIC_KEY_NAME, load_public_key, record_key_id, write_key_pair  # noqa: E402
from tests.fakes import FakeProvider  # noqa: E402

CONFIG = REPO / "deploy" / "demo" / "policy-engine.yaml"
DEMO_KEY = "demo-key"  # what the fakes expect; synthetic, never a real credential


def _curl(port: int) -> str:
    body = (
        '{"model": "default", "messages": [{"role": "user", "content": '
        '"Summarise: patient Jane Roe, jane.roe@example.org, +44 20 7946 0958"}]}'
    )
    return "\n".join(
        [
            f"curl -s http://127.0.0.1:{port}/v1/chat/completions \\",
            "  -H 'Content-Type: application/json' \\",
            "  -H 'X-Tenant-ID: acme-eu' -H 'X-Privacy-Tags: pii' \\",
            f"  -d {shlex.quote(body)}",
        ]
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).startswith(b"+PONG")
    return False


async def _start_redis(settings: Settings) -> asyncio.subprocess.Process | None:
    """A redis-server for `fleet.redis` when it points at this machine and none answers."""
    if settings.fleet.redis is None:
        return None
    url = urlsplit(settings.fleet.redis.url)
    port = url.port or 6379
    if url.hostname not in ("127.0.0.1", "localhost") or _answers(port):
        return None
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("fleet.redis is set but redis-server is missing: run `make setup`")
    server = await asyncio.create_subprocess_exec(
        binary,
        *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
        *("--dir", tempfile.mkdtemp(prefix="policy-engine-demo-redis-")),
        stdout=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(200):
        if _answers(port):
            return server
        await asyncio.sleep(0.05)
    raise SystemExit(f"redis-server did not answer on port {port}")


async def main(config: Path) -> int:
    settings = load_config(config)
    redis = await _start_redis(settings)
    key_dir = settings.audit.signing_key_file.parent
    if not settings.audit.signing_key_file.exists():
        write_key_pair(key_dir, Ed25519PrivateKey.generate())
    public_key = key_dir / PUBLIC_KEY_NAME
    fakes = []
    for provider in settings.providers:
        port = urlsplit(provider.base_url).port or 80
        fake = FakeProvider(provider.adapter, name=provider.id, api_key=DEMO_KEY, port=port)  # type: ignore[arg-type]
        await fake.start()
        fakes.append(fake)
        if provider.api_key_env:
            os.environ[provider.api_key_env] = DEMO_KEY
    # Its own session: Ctrl-C reaches only this launcher, which then stops the sidecar
    # with one SIGTERM (a second signal would make uvicorn skip its graceful shutdown).
    sidecar = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "policy_engine.cli",
        "serve",
        "--config",
        str(config),
        start_new_session=True,
    )
    console_port = _free_port()
    console = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "policy_engine.cli", "console", "--config", str(config)),
        *("--port", str(console_port)),
        stdout=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )
    port = settings.server.port
    print(
        f"\nFake providers: {', '.join(p.id for p in settings.providers)} on 127.0.0.1:9101-9107",
        f"Sidecar: http://127.0.0.1:{port} (embedded regopy policy, signed audit log in "
        f"{settings.audit.dir})",
        f"Console: http://127.0.0.1:{console_port} (decisions, proofs, resilience, policies)",
        f"Audit key id: {record_key_id(load_public_key(public_key))}",
        f"Redis (shared limits and circuits): {settings.fleet.redis.url}"
        if settings.fleet.redis
        else "Redis: not configured (limits and circuits are per process)",
        "\nTry it (an EU tenant: only EU providers are allowed, PII is redacted and restored):\n",
        _curl(port),
        f"\nExplain a decision:  .venv/bin/policy-engine decide --config {config} "
        "--tenant medibridge-us --tags phi",
        f"Verify the audit log: .venv/bin/policy-engine audit verify {settings.audit.dir} "
        f"--public-key {public_key}",
        "Ctrl-C stops everything.\n",
        sep="\n",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(sidecar.wait())
    await asyncio.wait([waiter, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED")
    if sidecar.returncode is None:
        sidecar.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, 30)
    if console.returncode is None:
        console.terminate()
    await console.wait()
    for fake in fakes:
        await fake.stop()
    if redis is not None:
        redis.terminate()
        await redis.wait()
    # uvicorn re-raises SIGTERM once it has shut down cleanly.
    return 0 if sidecar.returncode in (0, -signal.SIGTERM) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else CONFIG)))
