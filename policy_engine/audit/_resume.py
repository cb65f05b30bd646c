"""Picking the log up at a checkpoint without reading the records before it.

Beside each checkpoint note the writer keeps `checkpoints/<size>.resume`: the compact
range at that size (the roots of the perfect subtrees covering it), the hash of the
last record under it, and where that record ends on disk. The writer's start-up and
`audit verify --since-checkpoint` begin there and read only the tail after it.

A resume file is derived data, used only once checked: its range must fold to the
checkpoint's root, and the bytes before its position must be a record of seq
`size - 1` hashing to its last leaf. When one is missing or wrong, `scan_prefix`
rebuilds the same point by hashing the first `size` lines (no parsing, no signatures).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from pathlib import Path

import orjson

from policy_engine.audit._errors import AuditError
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._merkle import CompactRange
from policy_engine.audit._record import GENESIS_PREV
from policy_engine.audit._store import (
    CHECKPOINT_DIR,
    list_segments,
    read_lines,
    segment_path,
    write_durably,
)

# Records are about a kilobyte; the window grows when one is longer.
_WINDOW = 64 * 1024


@dataclass(frozen=True)
class ResumePoint:
    """The log at `tree.size` records: the last one ends at `offset` in `segment`."""

    tree: CompactRange
    segment: int
    offset: int
    prev: str  # hex leaf hash of record `tree.size - 1` (GENESIS_PREV for none)

    @property
    def size(self) -> int:
        return self.tree.size

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "size": self.tree.size,
                "range": [base64.b64encode(node).decode() for node in self.tree.hashes],
                "segment": self.segment,
                "offset": self.offset,
                "prev": self.prev,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> ResumePoint:
        try:
            raw = orjson.loads(data)
            tree = CompactRange.from_hashes(
                raw["size"], [base64.b64decode(node, validate=True) for node in raw["range"]]
            )
            segment, offset, prev = raw["segment"], raw["offset"], raw["prev"]
        except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error) as exc:
            raise ValueError(f"malformed resume file: {exc}") from exc
        if type(segment) is not int or type(offset) is not int or not isinstance(prev, str):
            raise ValueError("malformed resume file: segment, offset or prev")
        return cls(tree, segment, offset, prev)


def start_of_log(directory: Path) -> ResumePoint:
    """The point before the first record."""
    segments = list_segments(directory)
    first = segments[0][0] if segments else 1
    return ResumePoint(CompactRange(), first, 0, GENESIS_PREV)


def resume_path(directory: Path, size: int) -> Path:
    return directory / CHECKPOINT_DIR / f"{size:020d}.resume"


def write_resume(directory: Path, point: ResumePoint) -> None:
    write_durably(resume_path(directory, point.size), point.to_json())


def load_resume(directory: Path, size: int, root: bytes) -> ResumePoint | None:
    """The resume point beside checkpoint `size`, if its file is there and checks out
    against `root` and the segment it points into; None otherwise."""
    try:
        point = ResumePoint.from_json(resume_path(directory, size).read_bytes())
    except (OSError, ValueError):
        return None
    if point.size != size or point.tree.root() != root:
        return None
    return point if _ends_with_record(directory, point) else None


def _ends_with_record(directory: Path, point: ResumePoint) -> bool:
    """Whether the bytes before `point` end in the record of seq `size - 1` it names."""
    if point.offset <= 0:
        return False
    try:
        with segment_path(directory, point.segment).open("rb") as handle:
            window = _WINDOW
            while True:
                start = max(point.offset - window, 0)
                handle.seek(start)
                data = handle.read(point.offset - start)
                newline = data.rfind(b"\n", 0, len(data) - 1)
                if newline >= 0 or start == 0:
                    break
                window *= 2
    except OSError:
        return False
    if len(data) != point.offset - start or not data.endswith(b"\n"):
        return False
    line = data[newline + 1 : -1]
    try:
        seq = orjson.loads(line).get("seq")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return seq == point.size - 1 and hash_leaf(line).hex() == point.prev


def scan_prefix(directory: Path, size: int) -> ResumePoint:
    """The point after the first `size` records, found by hashing every line before it."""
    tree = CompactRange()
    prev = GENESIS_PREV
    if size == 0:
        return start_of_log(directory)
    for number, path in list_segments(directory):
        for line in read_lines(path):
            if not line.complete:
                break
            leaf = hash_leaf(line.data)
            tree.append(leaf)
            prev = leaf.hex()
            if tree.size == size:
                return ResumePoint(tree, number, line.offset + len(line.data) + 1, prev)
    raise AuditError(f"the log holds {tree.size} records, fewer than {size}")


def leaves_after(directory: Path, point: ResumePoint, count: int) -> list[bytes]:
    """The leaf hashes of the `count` records after `point`."""
    leaves: list[bytes] = []
    if count <= 0:
        return leaves
    for number, path in list_segments(directory):
        if number < point.segment:
            continue
        for line in read_lines(path, point.offset if number == point.segment else 0):
            if not line.complete:
                break
            leaves.append(hash_leaf(line.data))
            if len(leaves) == count:
                return leaves
    raise AuditError(
        f"the log holds {point.size + len(leaves)} records, fewer than {point.size + count}"
    )
