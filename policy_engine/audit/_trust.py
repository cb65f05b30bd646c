"""What an auditor pins: the log's origin and the Ed25519 keys trusted to sign it.

A checkpoint is accepted only when a trusted key signed it under the pinned origin
(the signature's key name) and its body names that origin too. The origin is never
read from the note itself: a note signed by a trusted key for another log (a staging
log under `staging/audit`, say) is refused, as Go's `note.Open` refuses it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine.audit._checkpoint import Checkpoint, parse_checkpoint
from policy_engine.audit._errors import CheckpointError, NoteError
from policy_engine.audit._keys import record_key_id
from policy_engine.audit._note import NoteVerifier, key_name_problem, open_note, parse_verifier_key

DEFAULT_ORIGIN = "policy-engine/audit"


@dataclass(frozen=True)
class LogTrust:
    origin: str
    keys: tuple[Ed25519PublicKey, ...]

    def __post_init__(self) -> None:
        problem = key_name_problem(self.origin)
        if problem is not None:
            raise NoteError(f"invalid origin {self.origin!r}: {problem}")
        if not self.keys:
            raise NoteError("no trusted key")

    @classmethod
    def of(cls, trust: LogTrust | Sequence[Ed25519PublicKey]) -> LogTrust:
        """`trust` itself, or bare keys pinned to the default origin."""
        return trust if isinstance(trust, LogTrust) else cls(DEFAULT_ORIGIN, tuple(trust))

    @classmethod
    def from_verifier_keys(cls, texts: Sequence[str]) -> LogTrust:
        """C2SP verifier keys (`name+hash+key`, as `keys generate` prints them); their
        name is the origin, so all of them must name the same one."""
        verifiers = [parse_verifier_key(text.strip()) for text in texts]
        origins = sorted({verifier.name for verifier in verifiers})
        if len(origins) != 1:
            raise NoteError(f"verifier keys name {len(origins)} origins: {', '.join(origins)}")
        return cls(origins[0], tuple(verifier.key for verifier in verifiers))

    @property
    def record_keys(self) -> dict[str, Ed25519PublicKey]:
        return {record_key_id(key): key for key in self.keys}

    def open_checkpoint(self, note: bytes) -> Checkpoint:
        """Verify a checkpoint note under the pinned origin and parse its body."""
        opened = open_note(note, [NoteVerifier(self.origin, key) for key in self.keys])
        checkpoint = parse_checkpoint(opened.text)
        if checkpoint.origin != self.origin:
            raise CheckpointError(
                f"checkpoint origin {checkpoint.origin!r} is not the pinned origin {self.origin!r}"
            )
        return checkpoint
