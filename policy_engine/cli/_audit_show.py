"""`policy-engine audit show`: list a log's requests, filtered.

A request is shown once: by its outcome record, or, when a crash left its intent
record without an outcome, by the intent, as `interrupted`. Other records (recovery)
are shown as they are.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policy_engine.audit import AuditError, Record, iter_records
from policy_engine.cli._output import EXIT_FAILED, EXIT_OK, fail

INTERRUPTED = "interrupted"
# The outcomes a request record can hold (README, "Metrics"), and the one `show` gives
# an intent whose outcome never came.
OUTCOMES = (
    "answered",
    "denied",
    "failed_closed",
    "all_failed",
    "bad_request",
    "provider_rejected",
    "stream_failed",
    "client_disconnected",
    "unauthenticated",
    "forbidden",
    "audit_failed",
    "internal_error",
    INTERRUPTED,
)
_AGO = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_TIME_FORMATS = (
    "an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00, 2026-01-31T12:00:00+02:00; "
    "without an offset it is UTC) or a time ago (30m, 24h, 7d)"
)


def register(commands: argparse._SubParsersAction[Any]) -> None:
    show = commands.add_parser(
        "show",
        help="List requests (an interrupted one by its intent), filtered.",
        description=f"--since and --until take {_TIME_FORMATS}.",
    )
    show.add_argument("dir", type=Path)
    show.add_argument("--tenant")
    show.add_argument("--provider", help="records with an attempt at this provider")
    show.add_argument("--outcome", choices=OUTCOMES, metavar="OUTCOME", help=", ".join(OUTCOMES))
    show.add_argument("--since", type=moment, metavar="TIME", help="from this time on")
    show.add_argument("--until", type=moment, metavar="TIME", help="before this time")
    show.add_argument("--json", action="store_true", help="print the records as JSON lines")
    show.set_defaults(func=run_show)


def moment(text: str) -> datetime:
    """A point in time from `--since`/`--until`; argparse shows the error as it is."""
    ago = _AGO.fullmatch(text.strip())
    if ago is not None:
        amount, unit = ago.groups()
        return datetime.now(UTC) - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {_TIME_FORMATS}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_show(args: argparse.Namespace) -> int:
    try:
        # Two passes rather than the whole log in memory: which intents were answered
        # is known only once their outcomes are read.
        answered = _answered(args.dir)
        for _, record in iter_records(args.dir):
            outcome = _outcome(record, answered)
            if outcome is not _HIDDEN and _matches(record, outcome, args):
                print(record.line.decode() if args.json else _summary(record, outcome))
    except BrokenPipeError:
        raise  # the reader left: `main` ends quietly
    except (AuditError, OSError) as exc:
        return fail(f"error: {exc}", EXIT_FAILED)
    return EXIT_OK


_HIDDEN = "hidden"  # an intent shown through its outcome record


def _answered(directory: Path) -> set[object]:
    return {
        record.event.get("intent_seq")
        for _, record in iter_records(directory)
        if record.kind == "request"
    }


def _outcome(record: Record, answered: set[object]) -> str | None:
    """The outcome a shown record stands for (None for other kinds), or _HIDDEN."""
    if record.kind == "intent":
        return _HIDDEN if record.seq in answered else INTERRUPTED
    if record.kind == "request":
        return _text(record.event.get("outcome"))
    return None


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def _providers(record: Record) -> list[str]:
    attempts = record.event.get("attempts")
    if not isinstance(attempts, list):
        return []
    return [str(item.get("provider")) for item in attempts if isinstance(item, dict)]


def _matches(record: Record, outcome: str | None, args: argparse.Namespace) -> bool:
    event = record.event
    if args.tenant is not None and event.get("tenant") != args.tenant:
        return False
    if args.outcome is not None and outcome != args.outcome:
        return False
    if args.provider is not None and args.provider not in _providers(record):
        return False
    at = datetime.fromisoformat(record.at)
    if args.since is not None and at < args.since:
        return False
    return args.until is None or at < args.until


def _summary(record: Record, outcome: str | None) -> str:
    event = record.event
    if record.kind not in ("request", "intent"):
        return f"{record.seq:>8}  {record.at}  [{record.kind}] {json.dumps(event, sort_keys=True)}"
    fields = (
        _text(event.get("tenant")),
        outcome,
        ",".join(_providers(record)),
        _text(event.get("request_id")),
    )
    return f"{record.seq:>8}  {record.at}  " + "  ".join(value or "-" for value in fields)
