"""`policy-engine audit verify|prove|check-proof|consistency|show`: an auditor's tools.

Every check pins what it trusts: the log's origin and its keys, given as C2SP verifier
keys (`--verifier-key`, as `keys generate` prints them) or as public key PEMs with
`--origin`. A checkpoint signed by a trusted key under any other origin is refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from policy_engine.audit import (
    DEFAULT_ORIGIN,
    AuditError,
    ConsistencyProof,
    InclusionBundle,
    LogTrust,
    VerificationFailure,
    VerifyReport,
    check_consistency,
    check_inclusion_bundle,
    load_public_key,
    prove_consistency,
    prove_request,
    verify_log,
)
from policy_engine.cli import _audit_show
from policy_engine.cli._output import EXIT_FAILED, EXIT_USAGE, fail, write_out


def register(sub: argparse._SubParsersAction[Any]) -> None:
    audit = sub.add_parser("audit", help="Verify, prove and inspect the signed audit log.")
    commands = audit.add_subparsers(dest="audit_command", required=True)

    verify = commands.add_parser(
        "verify",
        help="Check signatures, the hash chain, checkpoints and Merkle roots.",
        description=(
            "Exit 0 when intact (interrupted requests and quarantined tails are reported, "
            "not failed); otherwise 1, naming the first bad record or checkpoint."
        ),
    )
    verify.add_argument("dir", type=Path)
    _trust_options(verify)
    verify.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a checkpoint note kept elsewhere; detects truncation (repeatable)",
    )
    verify.add_argument(
        "--since-checkpoint",
        type=Path,
        metavar="FILE",
        help="a trusted checkpoint note: check only the records appended after it, and "
        "that the log's newest checkpoint is consistent with it",
    )
    verify.add_argument(
        "--jobs",
        type=_positive,
        default=1,
        metavar="N",
        help="processes checking signatures, for a large log (default 1)",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(func=run_verify)

    prove = commands.add_parser(
        "prove",
        help="Print an inclusion proof of one request's record, or a consistency proof (JSON).",
    )
    prove.add_argument("dir", type=Path)
    wanted = prove.add_mutually_exclusive_group(required=True)
    wanted.add_argument("--request-id", help="the request whose record to prove")
    wanted.add_argument(
        "--consistency",
        type=int,
        metavar="SIZE1",
        help="prove that the tree of SIZE1 records is a prefix of the one at --to",
    )
    prove.add_argument(
        "--to", type=int, metavar="SIZE2", help="with --consistency (default: latest checkpoint)"
    )
    prove.set_defaults(func=run_prove)

    check = commands.add_parser(
        "check-proof", help="Check an inclusion proof printed by `audit prove` ('-': stdin)."
    )
    check.add_argument("proof", help="proof JSON file, or - for stdin")
    _trust_options(check)
    check.set_defaults(func=run_check_proof)

    consistency = commands.add_parser(
        "consistency",
        help="Check that checkpoint NEW extends checkpoint OLD (RFC 6962 consistency proof).",
        description=(
            "Both notes must be signed under the pinned origin. The proof comes from a file "
            "printed by `audit prove DIR --consistency SIZE1 --to SIZE2`, or is computed "
            "from the log directory. Exit 0 when consistent, 1 when not."
        ),
    )
    consistency.add_argument("old", type=Path, help="the older checkpoint note")
    consistency.add_argument("new", type=Path, help="the newer checkpoint note")
    source = consistency.add_mutually_exclusive_group(required=True)
    source.add_argument("--proof", type=Path, metavar="FILE", help="proof JSON ('-': stdin)")
    source.add_argument("--log", type=Path, metavar="DIR", help="compute the proof from a log")
    _trust_options(consistency)
    consistency.set_defaults(func=run_consistency)

    _audit_show.register(commands)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _trust_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "trust", "the keys and origin checkpoints must be signed with (one way or the other)"
    )
    group.add_argument(
        "--verifier-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="a C2SP verifier key, origin+hash+key as `keys generate` or `keys verifier-key` "
        "print it; pins the origin too (repeat for rotated keys)",
    )
    group.add_argument(
        "--public-key",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="a trusted Ed25519 public key (repeat for rotated keys)",
    )
    group.add_argument(
        "--origin",
        help=f"the log's origin, with --public-key (default: {DEFAULT_ORIGIN}, the config's)",
    )


def _trust(args: argparse.Namespace) -> LogTrust:
    """The pinned trust from the options; AuditError for a bad or missing one."""
    if args.verifier_key:
        if args.public_key or args.origin:
            raise AuditError("give --verifier-key, or --public-key with --origin; not both")
        return LogTrust.from_verifier_keys(args.verifier_key)
    if not args.public_key:
        raise AuditError("name the trusted key: --verifier-key VKEY or --public-key PEM")
    keys = tuple(load_public_key(path) for path in args.public_key)
    return LogTrust(args.origin or DEFAULT_ORIGIN, keys)


def _read(path: Path | str) -> bytes:
    return sys.stdin.buffer.read() if str(path) == "-" else Path(path).read_bytes()


def run_verify(args: argparse.Namespace) -> int:
    try:
        trust = _trust(args)
        held = [(str(path), path.read_bytes()) for path in args.checkpoint]
        since = None
        if args.since_checkpoint is not None:
            since = (str(args.since_checkpoint), args.since_checkpoint.read_bytes())
    except (AuditError, OSError) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    try:
        report = verify_log(args.dir, trust, held, since=since, jobs=args.jobs)
    except VerificationFailure as exc:
        return fail(f"FAIL {exc.where}: {exc.reason}", EXIT_FAILED)
    if args.json:
        return write_out([json.dumps(_report_json(report), indent=2)])
    return write_out(_report_lines(report))


def _report_lines(report: VerifyReport) -> list[str]:
    last = report.first_seq + report.records - 1
    span = f"seq {report.first_seq}-{last}" if report.records else "none"
    scope = (
        f"appended after the trusted checkpoint of size {report.first_seq}"
        if report.first_seq
        else "in the whole log"
    )
    lines = [
        f"OK: {report.records} records ({span}) {scope}, in {report.segments} segments; "
        f"{report.checkpoints} checkpoints match under origin {report.origin}; "
        f"root {report.root_hash.hex()}"
    ]
    if report.consistent_to is not None:
        lines.append(
            f"consistent: checkpoint {report.consistent_to} extends the trusted checkpoint "
            f"{report.first_seq} (RFC 6962 consistency proof checked)"
        )
    keys = ", ".join(f"{kid}: {count}" for kid, count in sorted(report.records_by_key.items()))
    lines.append(f"records by key id: {keys or 'none'}")
    lines.append(
        f"intents: {report.intents}; interrupted (an intent without its outcome: a crash, "
        f"or still in flight on a live log): {len(report.interrupted)}"
    )
    lines.extend(
        f"  seq {item.seq}  {item.at}  request {item.request_id}" for item in report.interrupted
    )
    lines.append(f"quarantined tails (moved aside by recovery): {len(report.quarantined)}")
    for item in report.quarantined:
        inside = (
            f"{len(item.records)} signed records inside (seq {item.records[0]}-{item.records[-1]})"
            if item.records
            else "no whole signed record inside"
        )
        where = f"{item.file}, SHA-256 matches" if item.file else "bytes not kept (older version)"
        lines.append(
            f"  recovery record seq {item.recovery_seq}: {item.size} bytes, {where}; {inside}"
        )
    return lines


def _report_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "ok": True,
        "origin": report.origin,
        "first_seq": report.first_seq,
        "records": report.records,
        "segments": report.segments,
        "checkpoints": report.checkpoints,
        "root_hash": report.root_hash.hex(),
        "consistent_to": report.consistent_to,
        "records_by_key": report.records_by_key,
        "intents": report.intents,
        "interrupted": [
            {"seq": item.seq, "request_id": item.request_id, "at": item.at}
            for item in report.interrupted
        ],
        "quarantined": [
            {
                "recovery_seq": item.recovery_seq,
                "file": item.file,
                "bytes": item.size,
                "sha256": item.sha256,
                "signed_records": list(item.records),
            }
            for item in report.quarantined
        ],
    }


def run_prove(args: argparse.Namespace) -> int:
    try:
        if args.request_id is not None:
            if args.to is not None:
                return fail("error: --to goes with --consistency", EXIT_USAGE)
            data = prove_request(args.dir, args.request_id).to_json()
        else:
            data = prove_consistency(args.dir, args.consistency, args.to).to_json()
    except (AuditError, OSError) as exc:
        return fail(f"error: {exc}", EXIT_FAILED)
    return write_out([json.dumps(data, indent=2)])


def run_check_proof(args: argparse.Namespace) -> int:
    try:
        trust = _trust(args)
        data = json.loads(_read(args.proof))
    except (AuditError, OSError, ValueError) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    try:
        bundle = InclusionBundle.from_json(data)
        record = check_inclusion_bundle(bundle, trust)
    except AuditError as exc:
        return fail(f"FAIL: {exc}", EXIT_FAILED)
    return write_out(
        [
            f"OK: record seq {record.seq} (request {record.event.get('request_id')}) is in "
            f"the tree of size {bundle.tree_size} signed under origin {trust.origin}"
        ]
    )


def run_consistency(args: argparse.Namespace) -> int:
    try:
        trust = _trust(args)
        old, new = args.old.read_bytes(), args.new.read_bytes()
        proof_json = json.loads(_read(args.proof)) if args.proof is not None else None
    except (AuditError, OSError, ValueError) as exc:
        return fail(f"error: {exc}", EXIT_USAGE)
    try:
        if proof_json is not None:
            proof = ConsistencyProof.from_json(proof_json)
        else:
            sizes = [trust.open_checkpoint(note).size for note in (old, new)]
            proof = prove_consistency(args.log, *sizes)
        first, second = check_consistency(old, new, proof, trust)
    except (AuditError, OSError) as exc:
        return fail(f"FAIL: {exc}", EXIT_FAILED)
    return write_out(
        [
            f"OK: the checkpoint of size {second.size} extends the one of size {first.size} "
            f"(origin {trust.origin})"
        ]
    )
