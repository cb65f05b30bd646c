"""Writing records of any kind straight through the log's writer (no writer process,
no sidecar), as the writer process does: recover, then commit batches, then close."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from policy_engine.audit import AuditSettings, NoteSigner, RecordSigner, load_private_key
from policy_engine.audit._recovery import recover
from policy_engine.audit._store import CHECKPOINT_DIR
from policy_engine.audit._writer import LogWriter

Logged = list[tuple[str, str, dict[str, Any]]]


@contextmanager
def open_writer(settings: AuditSettings, logged: Logged | None = None) -> Iterator[LogWriter]:
    """A writer on `settings.dir` after recovery (recovery records committed first);
    closed (final checkpoint) on exit. Its log lines go to `logged` if given."""
    key = load_private_key(settings.signing_key_file)
    state = recover(settings.dir)
    (settings.dir / CHECKPOINT_DIR).mkdir(exist_ok=True)

    def emit(level: str, event: str, fields: dict[str, Any]) -> None:
        if logged is not None:
            logged.append((level, event, fields))

    writer = LogWriter(settings, state, RecordSigner(key), NoteSigner(settings.origin, key), emit)
    writer.commit([(0, "recovery", cut) for cut in state.recovered])
    try:
        yield writer
    finally:
        writer.close()


def append(writer: LogWriter, records: Iterable[tuple[str, dict[str, Any]]]) -> list[int]:
    """Commit (kind, event) records one by one; their seqs."""
    seqs = []
    for kind, event in records:
        ((_, outcome),) = writer.commit([(0, kind, event)])
        assert isinstance(outcome, int), outcome
        seqs.append(outcome)
        writer.maybe_checkpoint()
    return seqs


def intent(request_id: str) -> tuple[str, dict[str, Any]]:
    return "intent", {"request_id": request_id, "tenant": "acme-eu", "candidates": ["mistral-eu"]}


def outcome(request_id: str, intent_seq: object, **extra: Any) -> tuple[str, dict[str, Any]]:
    return "request", {
        "request_id": request_id,
        "tenant": "acme-eu",
        "outcome": "answered",
        "attempts": [{"provider": "mistral-eu", "outcome": "ok"}],
        "intent_seq": intent_seq,
        **extra,
    }
