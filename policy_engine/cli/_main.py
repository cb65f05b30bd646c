"""Builds the `policy-engine` argument parser from one `register` per subcommand module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from policy_engine.cli import (
    _audit,
    _check,
    _console,
    _decide,
    _keys,
    _policy,
    _report,
    _resilience,
    _serve,
    _shipped,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policy-engine",
        description="Compliance-aware LLM routing sidecar.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (
        _serve,
        _decide,
        _check,
        _audit,
        _keys,
        _resilience,
        _report,
        _policy,
        _console,
    ):
        module.register(sub)
    _shipped.extend_audit(_subcommands(sub.choices["audit"]))
    return parser


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction[Any]:
    """The subcommands of `parser` (argparse keeps them among its actions)."""
    for action in parser._actions:  # argparse has no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise LookupError(f"{parser.prog} has no subcommands")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left early (`... | head -1`): stop writing, quietly, as `ls` or
        # `git log` would. Python's last flush at exit must find no pipe left either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
