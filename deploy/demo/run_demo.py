"""`make demo`: local fake providers on the ports of policy-engine.yaml, then the sidecar.

The fakes speak each provider's real wire format (the same ones the test suite uses)
and echo the user's last message, so the demo shows redaction and restoration. The
first request to acme-eu's preferred provider is rate limited, so the printed request
shows a fallback: `X-Routed-Model` names the model that answered, `X-Fallback` why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the fakes live in tests/

from policy_engine._config import load_config  # noqa: E402
from policy_engine.audit import PUBLIC_KEY_NAME, load_public_key, record_key_id, write_key_pair  # noqa: E402
from tests.fakes import FakeProvider, RateLimited  # noqa: E402

CONFIG = REPO / "deploy" / "demo" / "policy-engine.yaml"
DEMO_KEY = "demo-key"  # what the fakes expect; synthetic, never a real credential
FORCED_FALLBACK = "mistral-eu"  # acme-eu's first preference: its first answer is a 429


def _curl(port: int, model: str = "default", task_class: str | None = None) -> str:
    body = (
        f'{{"model": "{model}", "messages": [{{"role": "user", "content": '
        '"Summarise: patient Jane Roe, jane.roe@example.org, +44 20 7946 0958"}]}'
    )
    task = f" -H 'X-Task-Class: {task_class}'" if task_class else ""
    return "\n".join(
        [
            f"curl -si http://127.0.0.1:{port}/v1/chat/completions \\",
            "  -H 'Content-Type: application/json' \\",
            f"  -H 'X-Tenant-ID: acme-eu' -H 'X-Privacy-Tags: pii'{task} \\",
            f"  -d {shlex.quote(body)}",
        ]
    )


async def main(config: Path) -> int:
    settings = load_config(config)
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
        if provider.id == FORCED_FALLBACK:
            fake.script(RateLimited(retry_after=None))
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
    port = settings.server.port
    print(
        f"\nFake providers: {', '.join(p.id for p in settings.providers)} on 127.0.0.1:9101-9107",
        f"Sidecar: http://127.0.0.1:{port} (embedded regopy policy, signed audit log in "
        f"{settings.audit.dir})",
        f"Audit key id: {record_key_id(load_public_key(public_key))}",
        "\nTry it (an EU tenant: only EU providers are allowed, PII is redacted and restored;"
        f" {FORCED_FALLBACK} rate-limits the first request, so look for X-Routed-Model and"
        " X-Fallback):\n",
        _curl(port),
        "\nA task class sets a quality floor (analysis: 85; mistral-large scores 84):\n",
        _curl(port, "smart", "analysis"),
        f"\nExplain a decision:  .venv/bin/policy-engine decide --config {config} "
        "--tenant acme-eu --model smart --task-class analysis",
        f"Verify the audit log: .venv/bin/policy-engine audit verify {settings.audit.dir} "
        f"--public-key {public_key}",
        f"What it cost:         .venv/bin/policy-engine report cost --config {config} "
        "--html cost.html",
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
    for fake in fakes:
        await fake.stop()
    # uvicorn re-raises SIGTERM once it has shut down cleanly.
    return 0 if sidecar.returncode in (0, -signal.SIGTERM) else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else CONFIG)))
