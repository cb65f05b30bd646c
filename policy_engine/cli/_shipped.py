"""`audit verify` on a shipped copy, a witness requirement, and `audit witness`.

`audit verify s3://bucket/prefix/replica` rebuilds the shipped log in a temporary
directory and verifies it as it verifies a local one; `--shipped s3://...` verifies a
local log against the checkpoints shipped from it (a truncated or rewritten local log
fails); `--witness-key` requires a valid cosignature by that witness on a checkpoint
the log matches. These wrap the `verify` subcommand of cli/_audit.py without changing
it: the shipped checkpoints become held checkpoints (`--checkpoint`).

S3 access: `--endpoint-url`, `--region`, and boto3's own credentials chain
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, or an instance role).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, start_http_server

from policy_engine.audit import (
    AuditError,
    CosignatureVerifier,
    Cosigner,
    NoteError,
    S3Location,
    ShippedCopy,
    VerificationFailure,
    Witness,
    WitnessMetrics,
    fetch_shipped,
    load_private_key,
    load_public_key,
    parse_cosignature_key,
)

if TYPE_CHECKING:
    from policy_engine.audit import ObjectStore

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

Run = Callable[[argparse.Namespace], int]


def _dir_or_s3(text: str) -> Path | S3Location:
    return S3Location.parse(text) if text.startswith("s3://") else Path(text)


def _s3_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--endpoint-url", help="an S3-compatible store; unset = AWS")
    parser.add_argument("--region", default="us-east-1")


def _store(args: argparse.Namespace, bucket: str, retention_days: int = 1) -> ObjectStore:
    # Imported only by the subcommands that reach S3: boto3 takes tens of MB per process.
    from policy_engine.audit import ObjectStore, s3_client

    client = s3_client(args.endpoint_url, args.region, timeout_s=30)
    return ObjectStore(client, bucket, retention_days=retention_days)


def extend_audit(audit: argparse._SubParsersAction[Any]) -> None:
    verify: argparse.ArgumentParser = audit.choices["verify"]
    for action in verify._actions:  # no public way to retype an argument
        if action.dest == "dir":
            action.type = _dir_or_s3
            action.help = "the log directory, or its shipped copy as s3://bucket/prefix/replica"
    verify.add_argument(
        "--shipped",
        type=S3Location.parse,
        metavar="S3_URL",
        help="also check the local log against its shipped checkpoints (s3://...)",
    )
    verify.add_argument(
        "--witness-key",
        action="append",
        default=[],
        metavar="VKEY",
        help="require a valid cosignature by this witness (C2SP vkey); repeatable",
    )
    _s3_options(verify)
    verify.set_defaults(func=_verifying_shipped(verify.get_default("func")))

    witness = audit.add_parser(
        "witness",
        help="Follow each replica's shipped checkpoints and cosign the consistent ones.",
        description="Exit 1 (with --once) when a checkpoint was refused as a rollback or fork.",
    )
    witness.add_argument("--bucket", required=True)
    witness.add_argument("--prefix", default="policy-engine", help="the fleet's shipping.prefix")
    witness.add_argument(
        "--log-key",
        type=Path,
        action="append",
        required=True,
        metavar="PEM",
        help="the replicas' audit public key; repeat for rotated keys",
    )
    witness.add_argument("--key", type=Path, required=True, metavar="PEM", help="the witness's key")
    witness.add_argument("--name", required=True, help="the witness's name, e.g. example.com/w1")
    witness.add_argument("--state", type=Path, required=True, help="where accepted sizes are kept")
    witness.add_argument("--interval", type=float, default=10.0, help="seconds between polls")
    witness.add_argument("--once", action="store_true", help="poll once and exit")
    witness.add_argument("--metrics-port", type=int, help="serve Prometheus metrics here")
    witness.add_argument("--metrics-host", default="127.0.0.1", help="the metrics address")
    witness.add_argument("--retention-days", type=int, default=365)
    _s3_options(witness)
    witness.set_defaults(func=run_witness)


def _verifying_shipped(verify: Run) -> Run:
    def run(args: argparse.Namespace) -> int:
        witnesses = []
        try:
            witnesses = [parse_cosignature_key(text) for text in args.witness_key]
        except NoteError as error:
            return _fail(f"error: {error}", EXIT_USAGE)
        location = args.dir if isinstance(args.dir, S3Location) else args.shipped
        if location is None:
            if witnesses:
                return _fail("error: --witness-key needs a shipped copy (s3:// or --shipped)", 2)
            return verify(args)
        with tempfile.TemporaryDirectory(prefix="policy-engine-verify-") as scratch:
            rebuild = Path(scratch) / "log" if isinstance(args.dir, S3Location) else None
            try:
                copy = fetch_shipped(_store(args, location.bucket), location.prefix, rebuild)
            except VerificationFailure as failure:
                return _fail(f"FAIL {failure.where}: {failure.reason}", EXIT_FAILED)
            except AuditError as error:
                return _fail(f"error: {error}", EXIT_USAGE)
            held = list(copy.checkpoints) if rebuild is None else []
            for verifier in witnesses:
                cosigned = _cosigned(copy, verifier)
                if isinstance(cosigned, str):
                    return _fail(cosigned, EXIT_FAILED)
                held += cosigned
            args.checkpoint = [*args.checkpoint, *_written(Path(scratch), held)]
            if rebuild is not None:
                args.dir = rebuild
            code = verify(args)
        if code == EXIT_OK:
            print(f"shipped copy {location}: {len(copy.checkpoints)} checkpoints")
            for verifier in witnesses:
                print(f"witness {verifier.name}: the log matches every checkpoint it cosigned")
        return code

    return run


def _cosigned(copy: ShippedCopy, verifier: CosignatureVerifier) -> list[tuple[str, str]] | str:
    notes = copy.cosigned.get(verifier.key_hash.hex(), [])
    valid: list[tuple[str, str]] = []
    for label, note in notes:
        try:
            verifier.verify(note)
        except NoteError as error:
            return f"FAIL {label}: {error}"
        valid.append((label, note))
    if not valid:
        return f"FAIL: no checkpoint in the shipped copy is cosigned by witness {verifier.name}"
    return valid


def _written(directory: Path, notes: list[tuple[str, str]]) -> list[Path]:
    paths = []
    for index, (_, note) in enumerate(notes):
        path = directory / f"held-{index:06d}.note"
        path.write_text(note)
        paths.append(path)
    return paths


def _fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def run_witness(args: argparse.Namespace) -> int:
    try:
        log_keys = [load_public_key(path) for path in args.log_key]
        cosigner = Cosigner(args.name, load_private_key(args.key))
    except (AuditError, OSError) as error:
        return _fail(f"error: {error}", EXIT_USAGE)
    registry = CollectorRegistry()
    store = _store(args, args.bucket, args.retention_days)
    witness = Witness(store, args.prefix, log_keys, cosigner, args.state, WitnessMetrics(registry))
    print(f"witness {cosigner.name}: {cosigner.verifier.verifier_key()}", flush=True)
    if args.once:
        refusals = witness.poll()
        for replica, reason, detail in refusals:
            print(f"REFUSED {replica} ({reason}): {detail}", file=sys.stderr)
        return EXIT_FAILED if refusals else EXIT_OK
    if args.metrics_port is not None:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=registry)
    return asyncio.run(_follow(witness, args.interval))


async def _follow(witness: Witness, interval_s: float) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        await asyncio.to_thread(witness.poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
    return EXIT_OK
