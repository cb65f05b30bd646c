"""Proofs an auditor asks of a log directory, and the checks anyone holding the public
key (and the pinned origin) runs on them: inclusion of one record in a checkpoint,
consistency of two checkpoints. Also `iter_records`, for listing.
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
from policy_engine.audit._errors import AuditError, ProofError
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._merkle import consistency_proof_from, inclusion_proof
from policy_engine.audit._note import split_note
from policy_engine.audit._proof import verify_consistency, verify_inclusion
from policy_engine.audit._record import Record, parse_record
from policy_engine.audit._resume import leaves_after, load_resume, scan_prefix
from policy_engine.audit._store import (
    checkpoint_path,
    list_checkpoints,
    list_segments,
    read_lines,
    read_note,
)
from policy_engine.audit._trust import LogTrust


def open_checkpoint(note: bytes, trust: LogTrust | Sequence[Ed25519PublicKey]) -> Checkpoint:
    """Verify a checkpoint note under the pinned origin (bare keys pin the default one)."""
    return LogTrust.of(trust).open_checkpoint(note)


def iter_records(directory: Path) -> Iterator[tuple[str, Record]]:
    """Every parseable record with its location; no signature or chain checks (see verify)."""
    for _, path in list_segments(directory):
        for line in read_lines(path):
            if line.complete:
                yield f"{path.name} line {line.number}", parse_record(line.data)


def _b64(values: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(value).decode() for value in values]


@dataclass(frozen=True)
class InclusionBundle:
    """What `audit prove --request-id` prints: enough for anyone holding the public key
    and the origin to check."""

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
            "proof": _b64(self.proof),
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
    found: dict[str, Record] = {}
    needle = rfc8785.dumps(request_id)  # exactly as it appears in a canonical line
    for _, path in list_segments(directory):
        for line in read_lines(path):
            if not line.complete:
                break
            leaves.append(hash_leaf(line.data))
            # A substring test first: fully parsing every record would dominate the cost.
            if needle in line.data:
                candidate = parse_record(line.data)
                if candidate.event.get("request_id") == request_id:
                    found.setdefault(candidate.kind, candidate)
    # The outcome record; the intent alone for a request a crash interrupted.
    record = found.get("request") or found.get("intent")
    if record is None:
        raise AuditError(f"no record for request id {request_id!r}")
    checkpoints = list_checkpoints(directory)
    if not checkpoints or checkpoints[-1][0] <= record.seq:
        covered = checkpoints[-1][0] if checkpoints else 0
        raise AuditError(
            f"record seq {record.seq} is not under a checkpoint yet (latest covers {covered} "
            "records); retry after the next checkpoint"
        )
    size, path = checkpoints[-1]
    if size > len(leaves):
        raise AuditError(f"{path.name} covers {size} records but the log holds {len(leaves)}")
    return InclusionBundle(
        leaf_index=record.seq,
        tree_size=size,
        leaf_hash=record.leaf_hash,
        proof=inclusion_proof(leaves[:size], record.seq),
        checkpoint=_note_text(path),
        record=record.line.decode(),
    )


def _note_text(path: Path) -> str:
    try:
        return read_note(path).decode()
    except UnicodeDecodeError as exc:
        raise AuditError(f"{path.name} is not a note (not UTF-8)") from exc


def check_inclusion_bundle(
    bundle: InclusionBundle, trust: LogTrust | Sequence[Ed25519PublicKey]
) -> Record:
    """Check a bundle end to end: checkpoint signature and origin, proof, record hash
    and signature."""
    trust = LogTrust.of(trust)
    checkpoint = trust.open_checkpoint(bundle.checkpoint.encode())
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
    record.verify(trust.record_keys)
    return record


@dataclass(frozen=True)
class ConsistencyProof:
    """An RFC 6962 consistency proof between two tree sizes, as `audit prove
    --consistency` prints it (the fields of the transparency-dev test vectors)."""

    size1: int
    size2: int
    proof: list[bytes]

    def to_json(self) -> dict[str, Any]:
        return {"size1": self.size1, "size2": self.size2, "proof": _b64(self.proof)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsistencyProof:
        try:
            size1, size2, proof = data["size1"], data["size2"], data["proof"]
            if type(size1) is not int or type(size2) is not int or not isinstance(proof, list):
                raise TypeError("size1 and size2 must be integers and proof a list")
            return cls(size1, size2, [base64.b64decode(item, validate=True) for item in proof])
        except (KeyError, TypeError, ValueError) as exc:
            raise ProofError(f"malformed consistency proof: {exc}") from exc


def prove_consistency(directory: Path, size1: int, size2: int | None = None) -> ConsistencyProof:
    """The proof that the log's first `size1` records are a prefix of its first `size2`
    (default: the latest checkpoint's size)."""
    if size2 is None:
        checkpoints = list_checkpoints(directory)
        if not checkpoints:
            raise AuditError("the log has no checkpoint yet")
        size2 = checkpoints[-1][0]
    if not 1 <= size1 <= size2:
        raise AuditError(f"need 1 <= size1 <= size2, got {size1} and {size2}")
    point = None
    path = checkpoint_path(directory, size1)
    if path.is_file():
        try:
            text, _ = split_note(read_note(path))
            point = load_resume(directory, size1, parse_checkpoint(text).root_hash)
        except AuditError:
            point = None
    if point is None:
        point = scan_prefix(directory, size1)
    tail = leaves_after(directory, point, size2 - size1)
    return ConsistencyProof(size1, size2, consistency_proof_from(point.tree, tail))


def check_consistency(
    old_note: bytes,
    new_note: bytes,
    proof: ConsistencyProof,
    trust: LogTrust | Sequence[Ed25519PublicKey],
) -> tuple[Checkpoint, Checkpoint]:
    """Check that the checkpoint `new_note` extends `old_note`: both signed under the
    pinned origin, and the proof leads from one root to the other."""
    trust = LogTrust.of(trust)
    old, new = trust.open_checkpoint(old_note), trust.open_checkpoint(new_note)
    if old.size > new.size:
        raise ProofError(f"the old checkpoint ({old.size}) is larger than the new ({new.size})")
    if (proof.size1, proof.size2) != (old.size, new.size):
        raise ProofError(
            f"the proof is from size {proof.size1} to {proof.size2}; "
            f"the checkpoints are of sizes {old.size} and {new.size}"
        )
    verify_consistency(old.size, new.size, proof.proof, old.root_hash, new.root_hash)
    return old, new
