"""Builds the `policy-engine` argument parser from one `register` per subcommand module."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from policy_engine.cli import _audit, _decide, _keys, _report, _resilience, _serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="policy-engine",
        description="Compliance-aware LLM routing sidecar.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (_serve, _decide, _audit, _keys, _resilience, _report):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
