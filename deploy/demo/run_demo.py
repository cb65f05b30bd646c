"""`make demo`: local fake providers on the ports of policy-engine.yaml, then the sidecar,
and the read-only console over its audit log on a free loopback port.

The fakes speak each provider's real wire format (the same ones the test suite uses)
and echo the user's last message, so the demo shows redaction and restoration. The
first request to acme-eu's preferred provider is rate limited, so the printed request
shows a fallback: `X-Routed-Model` names the model that answered, `X-Fallback` why. The
first embeddings request to azure-openai-eu is rate limited too: `embed` falls back to
the same model on openai-us, never to mistral-eu's other model.

    run_demo.py [CONFIG] [--port P] [--fake-port F]

`--port` moves the sidecar, `--fake-port` the fakes (to F, F+1, ...): the demo then
runs from a copy of the config beside its own audit log, so a second demo can run
beside a first (`make demo DEMO_PORT=8090 DEMO_FAKE_PORT=9201`).
"""

from __future__ import annotations

import argparse
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
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the fakes live in tests/

from policy_engine._config import Settings, load_config  # noqa: E402
from policy_engine._errors import ConfigError  # noqa: E402
from policy_engine.audit import PUBLIC_KEY_NAME, load_public_key, record_key_id, write_key_pair  # noqa: E402
from tests.fakes import Behaviour, FakeProvider, Overloaded, RateLimited, aws_environment  # noqa: E402
from tests.ports import free_port  # noqa: E402

CONFIG = REPO / "deploy" / "demo" / "policy-engine.yaml"
DEMO_KEY = "demo-key"  # what the fakes expect; synthetic, never a real credential
READY_TIMEOUT_S = 120
FORCED_FALLBACK = "mistral-eu"  # acme-eu's first preference: its first answer is a 429
EMBEDDINGS_FALLBACK = "azure-openai-eu"  # `embed`'s first choice: its first embedding is a 429
# Claude for acme-eu: Anthropic overloaded, then Bedrock throttled, once each, so the first
# `claude` request is answered by the same model on Vertex AI (and never in the US).
CLOUD_FALLBACK: dict[str, Behaviour] = {
    "anthropic-eu": Overloaded(),
    "bedrock-eu": RateLimited(retry_after=None),
}


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


def _embeddings_command(port: int) -> str:
    """The official SDK, as the README shows it: fallback within one model, then a denial."""
    script = (
        "from openai import OpenAI, PermissionDeniedError\n"
        f"client = OpenAI(base_url='http://127.0.0.1:{port}/v1', api_key='unused',\n"
        "                default_headers={'X-Tenant-ID': 'sandbox'})\n"
        "raw = client.embeddings.with_raw_response.create(model='embed', input=['a', 'b'])\n"
        "print(raw.headers['x-routed-provider'], raw.headers.get('x-fallback'),\n"
        "      len(raw.parse().data[0].embedding))\n"
        "try:\n"
        "    client.embeddings.create(model='embed', input='x',\n"
        "                             extra_headers={'X-Tenant-ID': 'medibridge-us'})\n"
        "except PermissionDeniedError as denied:\n"
        "    print(denied.message)\n"
    )
    return f".venv/bin/python - <<'EOF'\n{script}EOF"


def _port(url: str) -> int:
    return urlsplit(url).port or 80


def _moved(config: Path, settings: Settings, port: int | None, fake_port: int | None) -> Path:
    """A copy of the config on other ports, with its own audit log and key beside it."""
    raw = settings.model_dump(mode="json", exclude_unset=True)
    sidecar_port = settings.server.port if port is None else port
    raw.setdefault("server", {})["port"] = sidecar_port
    home = settings.audit.dir.parent
    state = home.with_name(f"{home.name}-{sidecar_port}")
    for index, provider in enumerate(raw["providers"]):
        if fake_port is not None:
            parts = urlsplit(provider["base_url"])
            netloc = f"{parts.hostname}:{fake_port + index}"
            provider["base_url"] = urlunsplit(parts._replace(netloc=netloc))
        options = provider.get("options") or {}
        if "credentials_file" in options:
            options["credentials_file"] = str(state / "gcp" / f"{provider['id']}.json")
    raw["audit"]["dir"] = str(state / "audit")
    raw["audit"]["signing_key_file"] = str(state / "keys" / settings.audit.signing_key_file.name)
    state.mkdir(parents=True, exist_ok=True)
    moved = state / config.name
    moved.write_text(yaml.safe_dump(raw, sort_keys=False))
    return moved


def _in_use(port: int) -> bool:
    with socket.socket() as probe:
        # As the servers bind: a port left in TIME_WAIT by a demo that ended is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _free_run(start: int, length: int) -> int:
    """The first port from `start` on that begins `length` free ports in a row."""
    first = start
    while first + length <= 65535:
        busy = next((p for p in range(first, first + length) if _in_use(p)), None)
        if busy is None:
            return first
        first = busy + 1
    raise OSError("no free ports")


def _busy_ports(settings: Settings) -> list[str]:
    wanted = [(settings.server.port, "the sidecar")]
    wanted += [(_port(p.base_url), f"the fake {p.id}") for p in settings.providers]
    return [f"port {port} ({what}) is already in use" for port, what in wanted if _in_use(port)]


def _refuse(busy: list[str], settings: Settings) -> int:
    fakes = [_port(p.base_url) for p in settings.providers]
    port = _free_run(settings.server.port + 1, 1)
    fake_port = _free_run(max(fakes) + 1, len(fakes))
    print(
        *(f"make demo: {line} on 127.0.0.1" for line in busy),
        "Another `make demo` (or another server) holds it. Stop that one, or run this one "
        "on other ports:",
        f"    make demo DEMO_PORT={port} DEMO_FAKE_PORT={fake_port}",
        f"    (or: .venv/bin/python deploy/demo/run_demo.py --port {port} --fake-port {fake_port})",
        sep="\n",
        file=sys.stderr,
    )
    return 1


def _place_service_account(fake: FakeProvider, path: str | None) -> None:
    """A Vertex fake's service-account key (its tokens come from the fake) where the
    config looks for it."""
    if path is None or fake.credentials_file is None:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(fake.credentials_file.read_bytes())
    target.chmod(0o600)


async def _ready(port: int, sidecar: asyncio.subprocess.Process) -> bool:
    """Wait until /readyz answers 200, or the sidecar exits."""
    url = f"http://127.0.0.1:{port}/readyz"
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for _ in range(READY_TIMEOUT_S * 10):
            if sidecar.returncode is not None:
                return False
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(url) as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False


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
        raise SystemExit("fleet.redis is set but redis-server is missing: run `make redis-server`")
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


async def main(config: Path, port: int | None, fake_port: int | None) -> int:
    try:
        settings = load_config(config)
        if port is not None or fake_port is not None:
            config = _moved(config, settings, port, fake_port)
            settings = load_config(config)
    except ConfigError as error:
        print(f"make demo: {error.message}", file=sys.stderr)
        return 1
    if busy := _busy_ports(settings):
        return _refuse(busy, settings)
    redis = await _start_redis(settings)
    key_dir = settings.audit.signing_key_file.parent
    if not settings.audit.signing_key_file.exists():
        write_key_pair(key_dir, Ed25519PrivateKey.generate())
    public_key = key_dir / PUBLIC_KEY_NAME
    fakes: list[FakeProvider] = []
    sidecar: asyncio.subprocess.Process | None = None
    console: asyncio.subprocess.Process | None = None
    try:
        # botocore's chain finds the fakes' synthetic AWS key, and nothing of this
        # machine's own AWS setup; the sidecar inherits it.
        os.environ.update(
            (name, value) for name, value in aws_environment(str(key_dir)).items() if value
        )
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        for provider in settings.providers:
            fake = FakeProvider(
                provider.adapter,  # type: ignore[arg-type]
                name=provider.id,
                api_key=DEMO_KEY,
                port=_port(provider.base_url),
                region=provider.options.get("region"),
                project=provider.options.get("project", "demo-project"),
            )
            try:
                await fake.start()
            except OSError:
                # Taken between the check and now.
                taken = (
                    f"port {_port(provider.base_url)} (the fake {provider.id}) is already in use"
                )
                return _refuse([taken], settings)
            fakes.append(fake)
            _place_service_account(fake, provider.options.get("credentials_file"))
            if provider.id == FORCED_FALLBACK:
                fake.script(RateLimited(retry_after=None))
            if provider.id == EMBEDDINGS_FALLBACK:
                fake.script_embeddings(RateLimited(retry_after=None))
            # The fake's vectors are as long as its embedding models' (model_attributes).
            sizes = {f.dimensions for f in provider.model_attributes.values() if f.dimensions}
            if len(sizes) == 1:
                fake.dimensions = sizes.pop()
            if provider.id in CLOUD_FALLBACK:
                fake.script(CLOUD_FALLBACK[provider.id])
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
        console_port = free_port()
        console = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "policy_engine.cli", "console", "--config", str(config)),
            *("--port", str(console_port)),
            stdout=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        return await _serve(config, settings, sidecar, public_key, console_port)
    finally:
        if sidecar is not None and sidecar.returncode is None:
            sidecar.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sidecar.wait(), 30)
        if console is not None:
            if console.returncode is None:
                console.terminate()
            await console.wait()
        for fake in fakes:
            await fake.stop()
        if redis is not None:
            redis.terminate()
            await redis.wait()


async def _serve(
    config: Path,
    settings: Settings,
    sidecar: asyncio.subprocess.Process,
    public_key: Path,
    console_port: int,
) -> int:
    port = settings.server.port
    waiter = asyncio.create_task(sidecar.wait())
    if not await _ready(port, sidecar):
        print("make demo: the sidecar did not become ready; its log is above", file=sys.stderr)
        return 1
    fake_ports = sorted(_port(p.base_url) for p in settings.providers)
    print(
        f"\nFake providers: {', '.join(p.id for p in settings.providers)} on "
        f"127.0.0.1:{fake_ports[0]}-{fake_ports[-1]}",
        f"Sidecar: http://127.0.0.1:{port} (embedded regopy policy, signed audit log in "
        f"{settings.audit.dir})",
        f"Console: http://127.0.0.1:{console_port} (decisions, proofs, resilience, policies)",
        f"Audit key id: {record_key_id(load_public_key(public_key))}",
        f"Redis (shared limits and circuits): {settings.fleet.redis.url}"
        if settings.fleet.redis
        else "Redis: not configured (limits and circuits are per process)",
        "\nTry it (an EU tenant: only EU providers are allowed, PII is redacted and restored;"
        f" {FORCED_FALLBACK} rate-limits the first request, so look for X-Routed-Model and"
        " X-Fallback):\n",
        _curl(port),
        "\nA task class sets a quality floor (analysis: 85; mistral-large scores 84):\n",
        _curl(port, "smart", "analysis"),
        "\nEmbeddings with the official SDK (azure-openai-eu rate-limits the first, so it falls"
        " back to the same model on openai-us; medibridge-us's phi is refused with reasons):\n",
        _embeddings_command(port),
        "\nClaude for the same tenant: anthropic-eu is overloaded and bedrock-eu (eu-central-1)"
        " throttles the first request, so vertex-eu (europe-west1) answers with the same model;"
        " bedrock-us and anthropic-us are never tried:\n",
        _curl(port, "claude"),
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
    await asyncio.wait([waiter, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED")
    if sidecar.returncode is None:
        sidecar.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, 30)
    # uvicorn re-raises SIGTERM once it has shut down cleanly.
    return 0 if sidecar.returncode in (0, -signal.SIGTERM) else 1


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fake providers and the sidecar, locally.")
    parser.add_argument("config", nargs="?", type=Path, default=CONFIG)
    parser.add_argument("--port", type=int, help="the sidecar's port (default: the config's)")
    parser.add_argument(
        "--fake-port",
        type=int,
        metavar="FIRST",
        help="the fakes' ports: FIRST, FIRST+1, ... (default: the config's)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    args = _arguments()
    raise SystemExit(asyncio.run(main(args.config, args.port, args.fake_port)))
