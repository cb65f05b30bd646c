"""`policy-engine serve`: run the sidecar."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

import uvicorn

from policy_engine._config import Settings, load_config
from policy_engine._errors import ConfigError
from policy_engine.api import ClientLimits, GuardedHttpToolsProtocol, SidecarApp, create_app
from policy_engine.audit import KeyFileError, load_private_key
from policy_engine.telemetry import configure_logging


def register(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser("serve", help="run the sidecar")
    parser.add_argument("--config", type=Path, required=True, help="the YAML config file")
    parser.add_argument("--host", help="override server.host")
    parser.add_argument("--port", type=int, help="override server.port")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
        # Checked here too, not only when the audit log opens at startup: there a
        # refusal would end up deep in uvicorn's lifespan traceback.
        load_private_key(settings.audit.signing_key_file)
    except ConfigError as error:
        print(f"policy-engine: {error.message}", file=sys.stderr)
        return 2
    except KeyFileError as error:
        print(f"policy-engine: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.logging.level)
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings, host, port))
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    # As uvicorn.run: a startup that failed (the audit log, the policy) exits non-zero.
    return 0 if server.started else 3


def uvicorn_config(
    app: SidecarApp, settings: Settings, host: str, port: int, loop: str = "uvloop"
) -> uvicorn.Config:
    """How the sidecar is served, here and in the tests that serve it."""
    server = settings.server
    limits = ClientLimits(
        max_connections=server.max_connections,
        header_timeout_s=server.header_timeout_s,
        body_timeout_s=server.body_timeout_s,
        max_header_bytes=server.max_header_bytes,
    )
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http=GuardedHttpToolsProtocol.with_limits(limits),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
        timeout_keep_alive=server.keep_alive_s,  # type: ignore[arg-type]
        # The sidecar is called directly by the application beside it, never through
        # a proxy, so there are no X-Forwarded-* headers to trust; uvicorn's proxy
        # middleware would only cost time on every request (bench/PERF_NOTES.md).
        proxy_headers=False,
        # Nothing for a client to learn from "server: uvicorn"; one header less to write.
        server_header=False,
    )
