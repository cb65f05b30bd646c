"""Rebuilding the writer's state from disk at startup, cutting a torn tail if a crash left one.

Only a suffix of the last segment can be torn: the writer emits whole lines and
fsyncs before acknowledging, so a crash can lose at most the batch it was writing.
Appended, that batch is cut off after the last newline. Written over pre-zeroed
space, a power cut can also persist its pages out of order, leaving NULs inside its
lines, so the torn tail starts at the first line of the last segment that holds a
NUL; cutting it may drop whole unacknowledged lines, but never records a checkpoint
covers (checkpoints are written only over durable records). The zero tail itself is
padding, not a tear: it is trimmed without a recovery record. Damage anywhere else
is not a crash artefact and stops the log from opening.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from policy_engine.audit._errors import LogCorrupted
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._merkle import CompactRange
from policy_engine.audit._record import GENESIS_PREV
from policy_engine.audit._store import (
    Line,
    data_size,
    fsync_directory,
    list_checkpoints,
    list_segments,
    segment_path,
    split_lines,
)


@dataclass
class LogState:
    next_seq: int
    prev: str
    tree: CompactRange
    segment: int
    segment_bytes: int
    checkpoint_size: int
    recovered: dict[str, Any] | None  # what was cut, for the recovery record


def recover(directory: Path) -> LogState:
    directory.mkdir(parents=True, exist_ok=True)
    segments = list_segments(directory)
    if not segments:
        path = segment_path(directory, 1)
        path.touch()
        fsync_directory(directory)
        segments = [(1, path)]
    checkpoints = list_checkpoints(directory)
    checkpoint_size = checkpoints[-1][0] if checkpoints else 0
    tree = CompactRange()
    prev = GENESIS_PREV
    recovered: dict[str, Any] | None = None
    for position, (number, path) in enumerate(segments):
        expected = segments[0][0] + position
        if number != expected:
            raise LogCorrupted(f"segment {expected:08d} is missing before {path.name}")
        data = path.read_bytes()
        size = data_size(data)
        if size < len(data):
            _truncate(path, size)
        for line in split_lines(data):
            if position == len(segments) - 1 and _is_torn(line):
                torn = data[line.offset : size]
                if b"\n" in torn and checkpoint_size > tree.size:
                    raise LogCorrupted(
                        f"{path.name}:{line.number}: damaged, and checkpoint {checkpoint_size} "
                        f"covers records after it"
                    )
                _truncate(path, line.offset)
                recovered = _describe_cut(path, line.offset, torn)
                break
            where = f"{path.name}:{line.number}"
            try:
                record = orjson.loads(line.data)
                seq, record_prev = record["seq"], record["prev"]
            except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
                raise LogCorrupted(f"{where}: unreadable record ({exc})") from exc
            if seq != tree.size or record_prev != prev:
                raise LogCorrupted(f"{where}: seq {seq} does not continue the chain")
            leaf = hash_leaf(line.data)
            tree.append(leaf)
            prev = leaf.hex()
    last_number, last_path = segments[-1]
    return LogState(
        next_seq=tree.size,
        prev=prev,
        tree=tree,
        segment=last_number,
        segment_bytes=last_path.stat().st_size,
        checkpoint_size=checkpoint_size,
        recovered=recovered,
    )


def _is_torn(line: Line) -> bool:
    return not line.complete or b"\0" in line.data


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _describe_cut(path: Path, offset: int, torn: bytes) -> dict[str, Any]:
    """The recovery record's event; `torn` excludes the zero padding after the tear."""
    return {
        "reason": "torn tail cut at startup",
        "segment": path.name,
        "offset": offset,
        "cut_bytes": len(torn),
        "cut_sha256": hashlib.sha256(torn).hexdigest(),
    }
