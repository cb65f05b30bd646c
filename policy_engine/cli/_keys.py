"""`policy-engine keys generate`: a new Ed25519 audit signing key pair."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import AuditError, NoteVerifier, record_key_id, write_key_pair

DEFAULT_ORIGIN = "policy-engine/audit"


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
