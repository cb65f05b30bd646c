"""`policy-engine audit verify|prove|check-proof|show`: an auditor's tools for the log."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine.audit import (
    AuditError,
    InclusionBundle,
    Record,
    VerificationFailure,
    check_inclusion_bundle,
    iter_records,
    load_public_key,
    prove_request,
    verify_log,
)

EXIT_OK = 0
EXIT_FAILED = 1  # the log, proof or checkpoint is not intact
EXIT_USAGE = 2  # bad input: unreadable key, missing file


def register(sub: argparse._SubParsersAction[Any]) -> None:
    audit = sub.add_parser("audit", help="Verify, prove and inspect the signed audit log.")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser(
        "verify",
        help="Check signatures, the hash chain, checkpoints and Merkle roots.",
        description="Exit 0 when intact; otherwise 1, naming the first bad record or checkpoint.",
    )
    verify.add_argument("dir", type=Path)
    _public_keys(verify)
    verify.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint note kept elsewhere; detects truncation (repeatable)",
    )
    verify.set_defaults(func=run_verify)

    prove = commands.add_parser(
        "prove", help="Print an inclusion proof of one request's record (JSON)."
    )
    prove.add_argument("dir", type=Path)
    prove.add_argument("--request-id", required=True)
    prove.set_defaults(func=run_prove)

    check = commands.add_parser(
        "check-proof", help="Check a proof printed by `audit prove` ('-' reads stdin)."
    )
    check.add_argument("proof", help="proof JSON file, or - for stdin")
    _public_keys(check)
    check.set_defaults(func=run_check_proof)

    show = commands.add_parser("show", help="List records, filtered.")
    show.add_argument("dir", type=Path)
    show.add_argument("--tenant")
    show.add_argument("--provider", help="records with an attempt at this provider")
    show.add_argument("--outcome")
    show.add_argument("--since", type=_timestamp, help="ISO 8601; naive means UTC")
    show.add_argument("--until", type=_timestamp, help="ISO 8601, exclusive")
    show.add_argument("--json", action="store_true", help="print the records as JSON lines")
    show.set_defaults(func=run_show)


def _public_keys(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public-key",
        type=Path,
        action="append",
        required=True,
        metavar="PEM",
        help="a trusted Ed25519 public key; repeat for rotated keys",
    )


def _timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def _load_keys(paths: Sequence[Path]) -> list[Ed25519PublicKey]:
    return [load_public_key(path) for path in paths]


def run_verify(args: argparse.Namespace) -> int:
    try:
        keys = _load_keys(args.public_key)
        held = [(str(path), path.read_text()) for path in args.checkpoint]
    except (AuditError, OSError) as exc:
        return _fail(f"error: {exc}", EXIT_USAGE)
    try:
        report = verify_log(args.dir, keys, held)
    except VerificationFailure as exc:
        return _fail(f"FAIL {exc.where}: {exc.reason}", EXIT_FAILED)
    print(
        f"OK: {report.records} records in {report.segments} segments; "
        f"{report.checkpoints} checkpoints match; root {report.root_hash.hex()}"
    )
    return EXIT_OK


def run_prove(args: argparse.Namespace) -> int:
    try:
        bundle = prove_request(args.dir, args.request_id)
    except (AuditError, OSError) as exc:
        return _fail(f"error: {exc}", EXIT_FAILED)
    print(json.dumps(bundle.to_json(), indent=2))
    return EXIT_OK


def run_check_proof(args: argparse.Namespace) -> int:
    try:
        keys = _load_keys(args.public_key)
        text = sys.stdin.read() if args.proof == "-" else Path(args.proof).read_text()
        data = json.loads(text)
    except (AuditError, OSError, ValueError) as exc:
        return _fail(f"error: {exc}", EXIT_USAGE)
    try:
        record = check_inclusion_bundle(InclusionBundle.from_json(data), keys)
    except AuditError as exc:
        return _fail(f"FAIL: {exc}", EXIT_FAILED)
    print(
        f"OK: record seq {record.seq} (request {record.event.get('request_id')}) "
        f"is in the signed tree of size {data['tree_size']}"
    )
    return EXIT_OK


def run_show(args: argparse.Namespace) -> int:
    try:
        records = [record for _, record in iter_records(args.dir) if _matches(record, args)]
    except (AuditError, OSError) as exc:
        return _fail(f"error: {exc}", EXIT_FAILED)
    for record in records:
        print(record.line.decode() if args.json else _summary(record))
    return EXIT_OK


def _providers(record: Record) -> list[str]:
    attempts = record.event.get("attempts")
    if not isinstance(attempts, list):
        return []
    return [str(item.get("provider")) for item in attempts if isinstance(item, dict)]


def _matches(record: Record, args: argparse.Namespace) -> bool:
    event = record.event
    if args.tenant is not None and event.get("tenant") != args.tenant:
        return False
    if args.outcome is not None and event.get("outcome") != args.outcome:
        return False
    if args.provider is not None and args.provider not in _providers(record):
        return False
    at = _timestamp(record.at)
    if args.since is not None and at < args.since:
        return False
    return args.until is None or at < args.until


def _summary(record: Record) -> str:
    event = record.event
    if record.kind != "request":
        return f"{record.seq:>8}  {record.at}  [{record.kind}] {json.dumps(event, sort_keys=True)}"
    providers = ",".join(_providers(record)) or "-"
    return (
        f"{record.seq:>8}  {record.at}  {event.get('tenant', '-')}  "
        f"{event.get('outcome', '-')}  {providers}  {event.get('request_id', '-')}"
    )
