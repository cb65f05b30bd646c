"""Rebuilding the writer's state from disk at startup, cutting a torn tail if a crash left one.

Only a suffix of the last segment can be torn: the writer emits whole lines and
fsyncs before acknowledging, so a crash can lose at most the bytes after the last
newline. Damage anywhere else is not a crash artefact and stops the log from opening.
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
    fsync_directory,
    list_checkpoints,
    list_segments,
    read_lines,
    segment_path,
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
    tree = CompactRange()
    prev = GENESIS_PREV
    recovered: dict[str, Any] | None = None
    for position, (number, path) in enumerate(segments):
        expected = segments[0][0] + position
        if number != expected:
            raise LogCorrupted(f"segment {expected:08d} is missing before {path.name}")
        for line in read_lines(path):
            if not line.complete and position == len(segments) - 1:
                recovered = _cut(path, line.offset)
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
    checkpoints = list_checkpoints(directory)
    return LogState(
        next_seq=tree.size,
        prev=prev,
        tree=tree,
        segment=last_number,
        segment_bytes=last_path.stat().st_size,
        checkpoint_size=checkpoints[-1][0] if checkpoints else 0,
        recovered=recovered,
    )


def _cut(path: Path, offset: int) -> dict[str, Any]:
    with path.open("r+b") as handle:
        handle.seek(offset)
        torn = handle.read()
        handle.truncate(offset)
        handle.flush()
        os.fsync(handle.fileno())
    return {
        "reason": "torn tail cut at startup",
        "segment": path.name,
        "offset": offset,
        "cut_bytes": len(torn),
        "cut_sha256": hashlib.sha256(torn).hexdigest(),
    }
