"""Rebuilding the writer's state at startup from the latest checkpoint and the tail after
it, moving a torn or damaged tail to quarantine if a crash left one.

The state at a checkpoint comes from its resume file (`_resume`), checked against the
checkpoint's root; only the records after it are read. Without a usable one, the
whole log is read, as before resume files existed.

Only a suffix of the last segment can be torn: the writer emits whole lines and
fsyncs before acknowledging, so a crash can lose at most the batch it was writing.
Appended, that batch is cut off after the last newline. Written over pre-zeroed
space, a power cut can also persist its pages out of order, leaving NULs inside its
lines, so the torn tail starts at the first line of the last segment that holds a
NUL. Recovery cannot tell such a tear from damage to records that were already
acknowledged, so it deletes neither: the tail's bytes are moved to a quarantine file
(`_quarantine`) whose name, size and SHA-256 the signed recovery record carries. A
tail under a checkpoint is never cut (checkpoints cover only durable records): that,
and damage anywhere else, stops the log from opening. The zero tail itself is
padding, not a tear: it is trimmed without a recovery record.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from policy_engine.audit._checkpoint import parse_checkpoint
from policy_engine.audit._errors import AuditError, LogCorrupted
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._merkle import CompactRange
from policy_engine.audit._note import split_note
from policy_engine.audit._quarantine import list_quarantine, quarantine
from policy_engine.audit._resume import ResumePoint, load_resume, start_of_log
from policy_engine.audit._store import (
    Line,
    data_size,
    fsync_directory,
    list_checkpoints,
    list_segments,
    read_note,
    segment_path,
    split_lines,
)

# Resume files tried, newest first, before reading the whole log.
_RESUME_TRIES = 3


@dataclass
class LogState:
    next_seq: int
    prev: str
    tree: CompactRange
    segment: int
    segment_bytes: int
    checkpoint_size: int
    # The recovery records to write before anything else, one per quarantine file.
    recovered: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int = 0  # the checkpoint size the tail was read from; 0: the whole log


def recover(directory: Path) -> LogState:
    directory.mkdir(parents=True, exist_ok=True)
    segments = _segments(directory)
    checkpoints = list_checkpoints(directory)
    checkpoint_size = checkpoints[-1][0] if checkpoints else 0
    start = _resume_point(directory, checkpoints)
    tree, prev = start.tree.copy(), start.prev
    referenced: set[object] = set()
    recovered: list[dict[str, Any]] = []
    last_number, last_path = segments[-1]
    for number, path in segments:
        if number < start.segment:
            _trim_zero_tail(path)
            continue
        data = path.read_bytes()
        size = data_size(data)
        if size < len(data):
            _truncate(path, size)
        for line in split_lines(data, start.offset if number == start.segment else 0):
            if number == last_number and _is_torn(line):
                torn = data[line.offset : size]
                if b"\n" in torn and checkpoint_size > tree.size:
                    raise LogCorrupted(
                        f"{path.name}:{line.number}: damaged, and checkpoint {checkpoint_size} "
                        f"covers records after it"
                    )
                name = quarantine(directory, tree.size, torn)
                _truncate(path, line.offset)
                recovered.append(_describe_cut(path, line.offset, torn, name))
                referenced.add(name)
                break
            where = f"{path.name}:{line.number}"
            try:
                record = orjson.loads(line.data)
                seq, record_prev = record["seq"], record["prev"]
                if record["kind"] == "recovery":
                    referenced.add(record["event"].get("quarantine"))
            except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise LogCorrupted(f"{where}: unreadable record ({exc})") from exc
            if seq != tree.size or record_prev != prev:
                raise LogCorrupted(f"{where}: seq {seq} does not continue the chain")
            leaf = hash_leaf(line.data)
            tree.append(leaf)
            prev = leaf.hex()
    # A crash between moving a tail aside and writing its record leaves a quarantine
    # file that no record names; it can only be newer than where reading started.
    for seq, name in list_quarantine(directory):
        if seq >= start.size and name not in referenced:
            recovered.append(_describe_unrecorded(directory, name))
    return LogState(
        next_seq=tree.size,
        prev=prev,
        tree=tree,
        segment=last_number,
        segment_bytes=last_path.stat().st_size,
        checkpoint_size=checkpoint_size,
        recovered=recovered,
        resumed_from=start.size,
    )


def _segments(directory: Path) -> list[tuple[int, Path]]:
    segments = list_segments(directory)
    if not segments:
        path = segment_path(directory, 1)
        path.touch()
        fsync_directory(directory)
        return [(1, path)]
    for position, (number, path) in enumerate(segments):
        expected = segments[0][0] + position
        if number != expected:
            raise LogCorrupted(f"segment {expected:08d} is missing before {path.name}")
    return segments


def _resume_point(directory: Path, checkpoints: list[tuple[int, Path]]) -> ResumePoint:
    """The newest checkpoint's checked resume point, or the start of the log."""
    for size, path in reversed(checkpoints[-_RESUME_TRIES:]):
        try:
            text, _ = split_note(read_note(path))
            root = parse_checkpoint(text).root_hash
        except (OSError, AuditError):
            continue
        point = load_resume(directory, size, root)
        if point is not None:
            return point
    return start_of_log(directory)


def _is_torn(line: Line) -> bool:
    return not line.complete or b"\0" in line.data


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _trim_zero_tail(path: Path) -> None:
    """Trim a zero tail a crash right after rotation left on an earlier segment."""
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) != b"\0":
            return
    data = path.read_bytes()
    _truncate(path, data_size(data))


def _describe_cut(path: Path, offset: int, torn: bytes, name: str) -> dict[str, Any]:
    """The recovery record's event; `torn` excludes the zero padding after the tear."""
    return {
        "reason": "torn or damaged tail moved to quarantine at startup",
        "segment": path.name,
        "offset": offset,
        "cut_bytes": len(torn),
        "cut_lines": torn.count(b"\n"),
        "cut_sha256": hashlib.sha256(torn).hexdigest(),
        "quarantine": name,
    }


def _describe_unrecorded(directory: Path, name: str) -> dict[str, Any]:
    data = (directory / name).read_bytes()
    return {
        "reason": "moved to quarantine before a crash; its recovery record is written now",
        "cut_bytes": len(data),
        "cut_lines": data.count(b"\n"),
        "cut_sha256": hashlib.sha256(data).hexdigest(),
        "quarantine": name,
    }
