"""Offline checks an auditor runs on a log directory: verify, prove inclusion, list records.

`verify_log` recomputes the Merkle root at every checkpoint's size from the records
themselves. Two checkpoints whose roots both match the one record sequence are
consistent by construction, which is stronger (and cheaper) than checking a
consistency proof between them; proofs are for parties who hold only checkpoints.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine.audit._checkpoint import Checkpoint, parse_checkpoint
from policy_engine.audit._errors import (
    AuditError,
    CheckpointError,
    NoteError,
    ProofError,
    RecordError,
    VerificationFailure,
)
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._keys import record_key_id
from policy_engine.audit._merkle import CompactRange, inclusion_proof
from policy_engine.audit._note import NoteVerifier, open_note
from policy_engine.audit._proof import verify_inclusion
from policy_engine.audit._record import GENESIS_PREV, Record, parse_record
from policy_engine.audit._store import list_checkpoints, list_segments, read_lines


@dataclass(frozen=True)
class VerifyReport:
    records: int
    segments: int
    checkpoints: int
    root_hash: bytes
    records_by_key: dict[str, int]


@dataclass(frozen=True)
class _Held:
    label: str
    checkpoint: Checkpoint


def open_checkpoint(note: str, keys: Sequence[Ed25519PublicKey]) -> Checkpoint:
    """Verify a checkpoint note (signed under its origin's name) and parse its body."""
    origin = note.split("\n", 1)[0]
    opened = open_note(note, [NoteVerifier(origin, key) for key in keys])
    return parse_checkpoint(opened.text)


def verify_log(
    directory: Path,
    keys: Sequence[Ed25519PublicKey],
    held_checkpoints: Sequence[tuple[str, str]] = (),
) -> VerifyReport:
    """Check every record and checkpoint; raise `VerificationFailure` at the first fault.

    `held_checkpoints` are (label, note text) pairs kept outside the log directory;
    one larger than the log proves the log was truncated.
    """
    segments = list_segments(directory) if directory.is_dir() else []
    if not segments:
        raise VerificationFailure(str(directory), "no segment files: not an audit log directory")
    trusted = {record_key_id(key): key for key in keys}
    # Bad checkpoints are reported after the records, so a damaged record is named first.
    held, bad_checkpoints = _load_checkpoints(directory, keys, held_checkpoints)
    tree = CompactRange()
    prev = GENESIS_PREV
    by_key: dict[str, int] = {}
    for _, path in segments:
        for line in read_lines(path):
            where = f"{path.name} line {line.number} (seq {tree.size})"
            if not line.complete:
                raise VerificationFailure(where, "incomplete last line (torn write, not recovered)")
            try:
                record = parse_record(line.data)
                where = f"{path.name} line {line.number} (seq {record.seq})"
                _check_link(record, tree.size, prev)
                record.verify(trusted)
            except RecordError as exc:
                raise VerificationFailure(where, str(exc)) from exc
            leaf = record.leaf_hash
            tree.append(leaf)
            prev = leaf.hex()
            by_key[record.kid] = by_key.get(record.kid, 0) + 1
            _check_roots_at(tree, held)
    if bad_checkpoints:
        raise bad_checkpoints[0]
    for item in held:
        if item.checkpoint.size > tree.size:
            raise VerificationFailure(
                item.label,
                f"commits to {item.checkpoint.size} records but the log holds {tree.size}: "
                "records were truncated or a segment was dropped",
            )
    return VerifyReport(tree.size, len(segments), len(held), tree.root(), by_key)


def _check_link(record: Record, expected_seq: int, prev: str) -> None:
    if record.seq != expected_seq:
        raise RecordError(
            f"seq {record.seq} where {expected_seq} was expected "
            "(a record was deleted, inserted or moved)"
        )
    if record.prev != prev:
        raise RecordError("prev is not the hash of the preceding record (hash chain broken)")


def _check_roots_at(tree: CompactRange, held: Sequence[_Held]) -> None:
    matching = [item for item in held if item.checkpoint.size == tree.size]
    if not matching:
        return
    root = tree.root()
    for item in matching:
        if item.checkpoint.root_hash != root:
            raise VerificationFailure(
                item.label,
                f"root hash {item.checkpoint.root_hash.hex()} does not match the root "
                f"{root.hex()} of the log's first {tree.size} records",
            )


def _load_checkpoints(
    directory: Path, keys: Sequence[Ed25519PublicKey], extra: Sequence[tuple[str, str]]
) -> tuple[list[_Held], list[VerificationFailure]]:
    notes = [
        (f"checkpoints/{path.name}", path.read_text()) for _, path in list_checkpoints(directory)
    ]
    held: list[_Held] = []
    bad: list[VerificationFailure] = []
    for label, note in [*notes, *extra]:
        try:
            checkpoint = open_checkpoint(note, keys)
        except (NoteError, CheckpointError) as exc:
            bad.append(VerificationFailure(label, str(exc)))
            continue
        if label.startswith("checkpoints/") and label != f"checkpoints/{checkpoint.size:020d}.note":
            bad.append(
                VerificationFailure(label, f"name disagrees with tree size {checkpoint.size}")
            )
            continue
        held.append(_Held(label, checkpoint))
    return held, bad


def iter_records(directory: Path) -> Iterator[tuple[str, Record]]:
    """Every parseable record with its location; no signature or chain checks (see verify)."""
    for _, path in list_segments(directory):
        for line in read_lines(path):
            if line.complete:
                yield f"{path.name} line {line.number}", parse_record(line.data)


@dataclass(frozen=True)
class InclusionBundle:
    """What `audit prove` prints: enough for anyone holding the public key to check."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    proof: list[bytes]
    checkpoint: str
    record: str

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": base64.b64encode(self.leaf_hash).decode(),
            "proof": [base64.b64encode(item).decode() for item in self.proof],
            "checkpoint": self.checkpoint,
            "record": self.record,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InclusionBundle:
        try:
            return cls(
                leaf_index=int(data["leaf_index"]),
                tree_size=int(data["tree_size"]),
                leaf_hash=base64.b64decode(data["leaf_hash"], validate=True),
                proof=[base64.b64decode(item, validate=True) for item in data["proof"]],
                checkpoint=str(data["checkpoint"]),
                record=str(data["record"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProofError(f"malformed inclusion proof: {exc}") from exc


def prove_request(directory: Path, request_id: str) -> InclusionBundle:
    """The inclusion proof of `request_id`'s record against the latest checkpoint."""
    leaves: list[bytes] = []
    found: Record | None = None
    needle = rfc8785.dumps(request_id)  # exactly as it appears in a canonical line
    for _, path in list_segments(directory):
        for line in read_lines(path):
            if not line.complete:
                break
            leaves.append(hash_leaf(line.data))
            # A substring test first: fully parsing every record would dominate the cost.
            if found is None and needle in line.data:
                record = parse_record(line.data)
                if record.event.get("request_id") == request_id:
                    found = record
    if found is None:
        raise AuditError(f"no record for request id {request_id!r}")
    checkpoints = list_checkpoints(directory)
    if not checkpoints or checkpoints[-1][0] <= found.seq:
        covered = checkpoints[-1][0] if checkpoints else 0
        raise AuditError(
            f"record seq {found.seq} is not under a checkpoint yet (latest covers {covered} "
            "records); retry after the next checkpoint"
        )
    size, path = checkpoints[-1]
    if size > len(leaves):
        raise AuditError(f"{path.name} covers {size} records but the log holds {len(leaves)}")
    return InclusionBundle(
        leaf_index=found.seq,
        tree_size=size,
        leaf_hash=found.leaf_hash,
        proof=inclusion_proof(leaves[:size], found.seq),
        checkpoint=path.read_text(),
        record=found.line.decode(),
    )


def check_inclusion_bundle(bundle: InclusionBundle, keys: Sequence[Ed25519PublicKey]) -> Record:
    """Check a bundle end to end: checkpoint signature, proof, record hash and signature."""
    checkpoint = open_checkpoint(bundle.checkpoint, keys)
    if checkpoint.size != bundle.tree_size:
        raise ProofError(f"proof is for size {bundle.tree_size}, checkpoint for {checkpoint.size}")
    line = bundle.record.encode()
    if hash_leaf(line) != bundle.leaf_hash:
        raise ProofError("the record does not hash to the proof's leaf hash")
    verify_inclusion(
        bundle.leaf_index, bundle.tree_size, bundle.leaf_hash, bundle.proof, checkpoint.root_hash
    )
    record = parse_record(line)
    if record.seq != bundle.leaf_index:
        raise ProofError(f"record seq {record.seq} is not the leaf index {bundle.leaf_index}")
    record.verify({record_key_id(key): key for key in keys})
    return record
