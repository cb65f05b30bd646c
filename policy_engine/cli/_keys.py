"""`policy-engine keys generate`: a new Ed25519 audit signing key pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import (
    DEFAULT_ORIGIN,
    AuditError,
    NoteVerifier,
    load_public_key,
    record_key_id,
    write_key_pair,
)


def register(sub: argparse._SubParsersAction[Any]) -> None:
    keys = sub.add_parser("keys", help="Manage audit log signing keys.")
    commands = keys.add_subparsers(dest="keys_command", required=True)
    generate = commands.add_parser(
        "generate",
        help="Write a new Ed25519 key pair (private key with mode 0600).",
        description="Write audit-signing-key.pem (0600) and audit-signing-key.pub.pem to DIR.",
    )
    generate.add_argument("--out", type=Path, required=True, metavar="DIR")
    generate.add_argument(
        "--origin",
        default=DEFAULT_ORIGIN,
        help="the log origin the key will sign checkpoints for (names the note verifier key)",
    )
    generate.set_defaults(func=generate_keys)
    verifier = commands.add_parser(
        "verifier-key",
        help="Print the C2SP verifier key of a public key for an origin (what auditors pin).",
    )
    verifier.add_argument("--public-key", type=Path, required=True, metavar="PEM")
    verifier.add_argument(
        "--origin", default=DEFAULT_ORIGIN, help="the log origin (audit.origin in the config)"
    )
    verifier.set_defaults(func=print_verifier_key)


def generate_keys(args: argparse.Namespace) -> int:
    key = Ed25519PrivateKey.generate()
    try:
        verifier = NoteVerifier(args.origin, key.public_key())
        private_path, public_path = write_key_pair(args.out, key)
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"private key: {private_path}")
    print(f"public key:  {public_path}")
    print(f"record key id: {record_key_id(key.public_key())}")
    print(f"checkpoint verifier key: {verifier.verifier_key()}")
    return 0


def print_verifier_key(args: argparse.Namespace) -> int:
    try:
        verifier = NoteVerifier(args.origin, load_public_key(args.public_key))
    except AuditError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(verifier.verifier_key())
    return 0
