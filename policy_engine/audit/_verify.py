"""`verify_log`: what an auditor runs on a log directory, pinned to an origin and keys.

It recomputes the Merkle root at every checkpoint's size from the records themselves.
Two checkpoints whose roots both match the one record sequence are consistent by
construction, which is stronger (and cheaper) than checking a consistency proof
between them; proofs are for parties who hold only checkpoints.

Given a trusted checkpoint (`since`), it starts there: the compact range at that size
(from the checkpoint's resume file, or by hashing the records before it) must fold
to the trusted root, and only the records after it are read and checked, ending with
an RFC 6962 consistency proof from the trusted checkpoint to the newest one.

Beyond integrity it pairs intents with outcomes (an intent without its outcome is
reported, not failed: a crash leaves one) and checks every quarantined tail.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine.audit._checked import Checked, Unreadable, check_all
from policy_engine.audit._checkpoint import Checkpoint
from policy_engine.audit._errors import (
    AuditError,
    CheckpointError,
    NoteError,
    ProofError,
    RecordError,
    VerificationFailure,
)
from policy_engine.audit._merkle import CompactRange, consistency_proof_from
from policy_engine.audit._proof import verify_consistency
from policy_engine.audit._quarantine import Quarantined, list_quarantine, read_quarantined
from policy_engine.audit._resume import ResumePoint, load_resume, scan_prefix, start_of_log
from policy_engine.audit._store import Line, list_checkpoints, list_segments, read_lines, read_note
from policy_engine.audit._trust import LogTrust


@dataclass(frozen=True)
class Interrupted:
    """An intent record with no outcome: the request was interrupted (or, on a live
    log, is still in flight)."""

    seq: int
    request_id: str
    at: str


@dataclass(frozen=True)
class VerifyReport:
    origin: str
    first_seq: int  # 0, or the size of the trusted checkpoint verification started from
    records: int  # records checked: those from first_seq on
    segments: int
    checkpoints: int  # checkpoints whose root matched
    root_hash: bytes
    records_by_key: dict[str, int]
    intents: int
    interrupted: tuple[Interrupted, ...] = ()
    quarantined: tuple[Quarantined, ...] = ()
    consistent_to: int | None = None  # the size a consistency proof from first_seq reached


@dataclass(frozen=True)
class _Held:
    label: str
    checkpoint: Checkpoint


def verify_log(
    directory: Path,
    trust: LogTrust | Sequence[Ed25519PublicKey],
    held_checkpoints: Sequence[tuple[str, bytes]] = (),
    *,
    since: tuple[str, bytes] | None = None,
    jobs: int = 1,
) -> VerifyReport:
    """Check every record and checkpoint; raise `VerificationFailure` at the first fault.

    `trust` is the pinned origin and keys (bare keys pin the default origin).
    `held_checkpoints` are (label, note) pairs kept outside the log directory; one
    larger than the log proves the log was truncated. `since` is a trusted
    checkpoint (label, note): only what was appended after it is checked. `jobs`
    processes share the signature checks.
    """
    trust = LogTrust.of(trust)
    segments = list_segments(directory) if directory.is_dir() else []
    if not segments:
        raise VerificationFailure(str(directory), "no segment files: not an audit log directory")
    start, start_root = _start(directory, trust, since)
    # Bad checkpoints are reported after the records, so a damaged record is named first.
    held, bad_checkpoints = _load_checkpoints(directory, trust, held_checkpoints, start.size)
    walk = _Walk(directory, trust, start, held)
    read = sum(1 for number, _ in segments if number >= start.segment)
    # closing(): a fault ends the worker processes now, not when the traceback goes.
    with closing(check_all(_lines(segments, start), trust.record_keys, jobs)) as checked_lines:
        for (path, line), checked in checked_lines:
            walk.line(path, line, checked)
    if bad_checkpoints:
        raise bad_checkpoints[0]
    for item in held:
        if item.checkpoint.size > walk.tree.size:
            raise VerificationFailure(
                item.label,
                f"commits to {item.checkpoint.size} records but the log holds {walk.tree.size}: "
                "records were truncated or a segment was dropped",
            )
    walk.check_quarantine_files()
    consistent_to = None
    if since is not None and start_root is not None:
        consistent_to = walk.check_consistency(since[0], start_root)
    return VerifyReport(
        origin=trust.origin,
        first_seq=start.size,
        records=walk.tree.size - start.size,
        segments=read,
        checkpoints=walk.matched,
        root_hash=walk.tree.root(),
        records_by_key=walk.by_key,
        intents=walk.intents,
        interrupted=tuple(
            Interrupted(seq, request_id, at) for seq, (request_id, at) in walk.pending.items()
        ),
        quarantined=tuple(walk.quarantined),
        consistent_to=consistent_to,
    )


def _lines(
    segments: list[tuple[int, Path]], start: ResumePoint
) -> Iterator[tuple[tuple[Path, Line], bytes | None]]:
    """Every line from `start` on, with its bytes (None for a torn last line)."""
    for number, path in segments:
        if number >= start.segment:
            for line in read_lines(path, start.offset if number == start.segment else 0):
                yield (path, line), line.data if line.complete else None


def _start(
    directory: Path, trust: LogTrust, since: tuple[str, bytes] | None
) -> tuple[ResumePoint, bytes | None]:
    """Where reading starts: the log's start, or the trusted checkpoint's point."""
    if since is None:
        return start_of_log(directory), None
    label, note = since
    try:
        trusted = trust.open_checkpoint(note)
    except (NoteError, CheckpointError) as exc:
        raise VerificationFailure(label, str(exc)) from exc
    point = load_resume(directory, trusted.size, trusted.root_hash)
    if point is None:
        try:
            point = scan_prefix(directory, trusted.size)
        except AuditError as exc:
            raise VerificationFailure(label, f"{exc}: records were truncated") from exc
    if point.tree.root() != trusted.root_hash:
        raise VerificationFailure(
            label,
            f"the log's first {trusted.size} records do not hash to this checkpoint's root: "
            "records under it were changed, deleted or inserted",
        )
    return point, trusted.root_hash


def _load_checkpoints(
    directory: Path, trust: LogTrust, extra: Sequence[tuple[str, bytes]], first: int
) -> tuple[list[_Held], list[VerificationFailure]]:
    """The checkpoints at sizes above `first` (the log's own, then those held elsewhere)."""
    notes: list[tuple[str, bytes]] = []
    bad: list[VerificationFailure] = []
    for size, path in list_checkpoints(directory):
        if size > first:
            label = f"checkpoints/{path.name}"
            try:
                notes.append((label, read_note(path)))
            except OSError as exc:
                bad.append(VerificationFailure(label, f"unreadable: {exc.strerror}"))
    held: list[_Held] = []
    for label, note in [*notes, *extra]:
        try:
            checkpoint = trust.open_checkpoint(note)
        except (NoteError, CheckpointError) as exc:
            bad.append(VerificationFailure(label, str(exc)))
            continue
        if label.startswith("checkpoints/") and label != f"checkpoints/{checkpoint.size:020d}.note":
            bad.append(
                VerificationFailure(label, f"name disagrees with tree size {checkpoint.size}")
            )
            continue
        if checkpoint.size > first:
            held.append(_Held(label, checkpoint))
    return held, bad


def _where(path: Path, line: Line, seq: int) -> str:
    return f"{path.name} line {line.number} (seq {seq})"


@dataclass
class _Walk:
    """The running state of one pass over the records."""

    directory: Path
    trust: LogTrust
    start: ResumePoint
    held: list[_Held]
    tree: CompactRange = field(init=False)
    prev: str = field(init=False)
    by_key: dict[str, int] = field(default_factory=dict)
    pending: dict[int, tuple[str, str]] = field(default_factory=dict)  # intent seq -> id, at
    intents: int = 0
    matched: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    leaves: list[bytes] = field(default_factory=list)  # after start, for the consistency proof

    def __post_init__(self) -> None:
        self.tree = self.start.tree.copy()
        self.prev = self.start.prev
        self._keys = self.trust.record_keys
        self._by_size: dict[int, list[_Held]] = {}
        for item in self.held:
            self._by_size.setdefault(item.checkpoint.size, []).append(item)
        self._keep_leaves = self.start.size > 0

    def line(self, path: Path, line: Line, checked: Checked | Unreadable | None) -> None:
        if checked is None:
            raise VerificationFailure(
                _where(path, line, self.tree.size),
                "incomplete last line (torn write, not recovered)",
            )
        if isinstance(checked, Unreadable):
            raise VerificationFailure(_where(path, line, self.tree.size), checked.reason)
        try:
            self._check_link(checked)
            if checked.signature_error is not None:
                raise RecordError(checked.signature_error)
            if checked.kind == "intent":
                self._intent(checked)
            elif checked.kind == "request":
                self._outcome(checked)
            elif checked.recovery is not None:
                self.quarantined.append(
                    read_quarantined(self.directory, checked.seq, checked.recovery, self._keys)
                )
        except RecordError as exc:
            raise VerificationFailure(_where(path, line, checked.seq), str(exc)) from exc
        leaf = checked.leaf
        self.tree.append(leaf)
        if self._keep_leaves:
            self.leaves.append(leaf)
        self.prev = leaf.hex()
        self.by_key[checked.kid] = self.by_key.get(checked.kid, 0) + 1
        matching = self._by_size.get(self.tree.size)
        if matching:
            self._check_roots(matching)

    def _check_link(self, record: Checked) -> None:
        if record.seq != self.tree.size:
            raise RecordError(
                f"seq {record.seq} where {self.tree.size} was expected "
                "(a record was deleted, inserted or moved)"
            )
        if record.prev != self.prev:
            raise RecordError("prev is not the hash of the preceding record (hash chain broken)")

    def _check_roots(self, matching: list[_Held]) -> None:
        root = self.tree.root()
        for item in matching:
            if item.checkpoint.root_hash != root:
                raise VerificationFailure(
                    item.label,
                    f"root hash {item.checkpoint.root_hash.hex()} does not match the root "
                    f"{root.hex()} of the log's first {self.tree.size} records",
                )
            self.matched += 1

    def _intent(self, record: Checked) -> None:
        request_id = record.request_id
        if not isinstance(request_id, str) or not request_id:
            raise RecordError("intent record without a request_id")
        self.pending[record.seq] = (request_id, record.at)
        self.intents += 1

    def _outcome(self, record: Checked) -> None:
        intent_seq = record.intent_seq
        if intent_seq is None:
            return  # no intent was written (e.g. denied before any route), or an older record
        if type(intent_seq) is not int or not 0 <= intent_seq < record.seq:
            raise RecordError(f"intent_seq {intent_seq!r} is not the seq of an earlier record")
        if intent_seq < self.start.size:
            return  # before the trusted checkpoint: not read, so not paired
        intent = self.pending.pop(intent_seq, None)
        if intent is None:
            raise RecordError(
                f"intent_seq {intent_seq} names no intent awaiting its outcome "
                "(not an intent record, or one already answered)"
            )
        if intent[0] != record.request_id:
            raise RecordError(
                f"intent_seq {intent_seq} is the intent of request {intent[0]!r}, "
                f"not of {record.request_id!r}"
            )

    def check_quarantine_files(self) -> None:
        """Every quarantine file from this range on is accounted for by a recovery record."""
        named = {item.file for item in self.quarantined}
        for seq, name in list_quarantine(self.directory):
            if seq >= self.start.size and name not in named:
                raise VerificationFailure(
                    name, "no recovery record accounts for this quarantined tail"
                )

    def check_consistency(self, label: str, trusted_root: bytes) -> int | None:
        """Check an RFC 6962 consistency proof from the trusted checkpoint to the newest
        checkpoint read; the size it reached, or None when there is none."""
        if not self.held:
            return None
        newest = max(self.held, key=lambda item: item.checkpoint.size).checkpoint
        tail = self.leaves[: newest.size - self.start.size]
        proof = consistency_proof_from(self.start.tree, tail)
        try:
            verify_consistency(self.start.size, newest.size, proof, trusted_root, newest.root_hash)
        except ProofError as exc:
            raise VerificationFailure(
                label, f"not consistent with size {newest.size}: {exc}"
            ) from exc
        return newest.size
