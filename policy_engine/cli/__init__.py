"""The `policy-engine` command line."""

from policy_engine.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
