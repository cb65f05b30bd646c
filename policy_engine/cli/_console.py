"""`policy-engine console`: the read-only web console, on loopback unless told otherwise."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine._auth import Authenticator
from policy_engine._config import Settings, load_config, resolve_caller_tokens
from policy_engine._errors import ConfigError, PolicyEngineError
from policy_engine.audit import PUBLIC_KEY_NAME, AuditError, load_public_key
from policy_engine.console import Console, LogIndex, Proposal, Sessions, create_console_app

EXIT_OK = 0
EXIT_ERROR = 2
LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEFAULT_PORT = 8090


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "console",
        help="serve the read-only web console over the audit log, policies and catalog",
        description=(
            "Pages and a JSON API (OpenAPI at /openapi.json) over the audit log of --config: "
            "decisions, one request with its proof, checkpoints, the resilience matrix, "
            "policy revisions and the impact of --proposed policies. Callers sign in with "
            "the sidecar's server.auth tokens when there are any."
        ),
    )
    parser.add_argument("--config", type=Path, required=True, help="the sidecar's config")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (loopback)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="listen port (0: any)")
    parser.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="a trusted audit key (repeatable); default: the public key beside the signing key",
    )
    parser.add_argument(
        "--index",
        default=":memory:",
        metavar="FILE",
        help="keep the log index in this SQLite file across restarts (default: in memory)",
    )
    parser.add_argument(
        "--proposed",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="a proposed policy directory whose impact the console shows (repeatable)",
    )
    parser.add_argument(
        "--proposed-catalog",
        type=Path,
        metavar="FILE",
        help="a proposed config whose providers every proposal is replayed with",
    )
    parser.set_defaults(func=run)


def _keys(settings: Settings, given: list[Path]) -> list[Ed25519PublicKey]:
    if given:
        return [load_public_key(path) for path in given]
    beside = settings.audit.signing_key_file.parent / PUBLIC_KEY_NAME
    return [load_public_key(beside)] if beside.is_file() else []


def _check_exposure(settings: Settings, host: str) -> None:
    auth = settings.server.auth
    if host not in LOOPBACK and not auth.tokens and not auth.allow_unauthenticated:
        raise ConfigError(
            f"listening on {host} needs server.auth.tokens in the config (or "
            "server.auth.allow_unauthenticated: true if the network already restricts callers)"
        )


def build(args: argparse.Namespace) -> tuple[Console, Sessions]:
    settings = load_config(args.config)
    _check_exposure(settings, args.host)
    catalog = None if args.proposed_catalog is None else load_config(args.proposed_catalog)
    names: set[str] = set()
    proposals = []
    for directory in args.proposed:
        name = directory.resolve().name or "proposed"
        while name in names:
            name += "+"
        names.add(name)
        proposals.append(Proposal(name, directory.resolve(), catalog))
    console = Console(
        settings,
        _keys(settings, args.public_key),
        LogIndex(settings.audit.dir, args.index),
        proposals,
    )
    return console, Sessions(Authenticator(resolve_caller_tokens(settings)))


async def _serve(console: Console, sessions: Sessions, host: str, port: int) -> None:
    await asyncio.to_thread(console.refresh)  # the first index pass, before taking requests
    config = uvicorn.Config(
        create_console_app(console, sessions),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn has no event
        await asyncio.sleep(0.05)
    if server.started:
        bound = server.servers[0].sockets[0].getsockname()[1]
        print(f"console: http://{host}:{bound}", flush=True)
        # The resilience report evaluates every combination: built now, not on a first view.
        warming = asyncio.create_task(console.resilience())
        warming.add_done_callback(lambda task: task.cancelled() or task.exception())
    await serving


def run(args: argparse.Namespace) -> int:
    try:
        console, sessions = build(args)
    except (PolicyEngineError, AuditError, OSError) as error:
        message = error.message if isinstance(error, PolicyEngineError) else str(error)
        print(f"policy-engine: {message}", file=sys.stderr)
        return EXIT_ERROR
    asyncio.run(_serve(console, sessions, args.host, args.port))
    return EXIT_OK
