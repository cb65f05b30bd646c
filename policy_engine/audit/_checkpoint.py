"""C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint): origin, tree size, root."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from policy_engine.audit._errors import CheckpointError
from policy_engine.audit._hashing import HASH_SIZE

# Tree sizes are uint64 in C2SP and int64 in Go's tlog: larger ones are refused.
MAX_TREE_SIZE = 2**63 - 1


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode()}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint body; non-empty extension lines after the root are ignored."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("checkpoint body needs origin, size and root lines")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not origin:
        raise CheckpointError("checkpoint origin is empty")
    if "" in extensions:
        raise CheckpointError("checkpoint has an empty extension line (C2SP: must be non-empty)")
    if not size_text.isascii() or not size_text.isdigit() or size_text != str(int(size_text)):
        raise CheckpointError(f"checkpoint tree size {size_text!r} is not a decimal number")
    if int(size_text) > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint tree size {size_text} is beyond 2**63 - 1")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise CheckpointError(f"checkpoint root hash is not base64: {exc}") from exc
    if len(root) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash has {len(root)} bytes, want {HASH_SIZE}")
    return Checkpoint(origin, int(size_text), root)
