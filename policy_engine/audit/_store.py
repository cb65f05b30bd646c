"""Where the log lives on disk: numbered segment files and checkpoint notes.

`DIR/segment-00000001.jsonl`, `-00000002`, ... hold records, one per line;
`DIR/checkpoints/<tree size, 20 digits>.note` hold signed checkpoints, each with a
`.resume` file beside it (see `_resume`); `DIR/quarantine/` holds the bytes recovery
moved out of a segment (see `_quarantine`).

While the writer runs, the segment it writes to ends in a run of NUL bytes: space
written with zeros ahead of the records, because overwriting blocks that are already
allocated makes each fdatasync cheaper than appending. Readers take a NUL run after
the last complete line as the end of the data; a NUL anywhere else is damage.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from policy_engine.audit._errors import LogLocked
from policy_engine.audit._note import MAX_NOTE_BYTES

_SEGMENT = re.compile(r"segment-(\d{8})\.jsonl")
_CHECKPOINT = re.compile(r"(\d{20})\.note")
CHECKPOINT_DIR = "checkpoints"
QUARANTINE_DIR = "quarantine"
LOCK_NAME = "writer.lock"


def segment_path(directory: Path, number: int) -> Path:
    return directory / f"segment-{number:08d}.jsonl"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    found = [
        (int(match.group(1)), path)
        for path in directory.iterdir()
        if (match := _SEGMENT.fullmatch(path.name))
    ]
    return sorted(found)


def checkpoint_path(directory: Path, size: int) -> Path:
    return directory / CHECKPOINT_DIR / f"{size:020d}.note"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    folder = directory / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [
        (int(match.group(1)), path)
        for path in folder.iterdir()
        if (match := _CHECKPOINT.fullmatch(path.name))
    ]
    return sorted(found)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, as editors and error messages count
    offset: int
    data: bytes  # without the newline
    complete: bool  # False for a last line with no newline: a torn write


def data_size(data: bytes) -> int:
    """Where a segment's data ends: before its trailing run of NUL bytes, if any."""
    return len(data.rstrip(b"\0"))


def split_lines(data: bytes, start: int = 0) -> Iterator[Line]:
    """The lines of a segment's bytes from offset `start` (a line's first byte), up to
    the zero tail; NULs inside lines are kept."""
    size = data_size(data)
    offset = start
    number = data.count(b"\n", 0, start) + 1
    while offset < size:
        end = data.find(b"\n", offset, size)
        if end < 0:
            yield Line(number, offset, data[offset:size], complete=False)
            return
        yield Line(number, offset, data[offset:end], complete=True)
        offset = end + 1
        number += 1


def read_lines(path: Path, start: int = 0) -> Iterator[Line]:
    return split_lines(path.read_bytes(), start)


def read_note(path: Path) -> bytes:
    """A checkpoint note's bytes (never newline-translated text), bounded in size."""
    with path.open("rb") as handle:
        return handle.read(MAX_NOTE_BYTES + 1)


def fsync_directory(directory: Path) -> None:
    """Make a created, renamed or truncated entry in `directory` survive a crash."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: temp file, fsync, rename, fsync the directory."""
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(errno.ENOSPC, "short write", str(temp))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_directory(path.parent)


def lock_directory(directory: Path) -> int:
    """Take the single-writer lock on `directory`; the kernel drops it if the process dies.

    Two writers would interleave lines and fork the hash chain.
    """
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(fd)
        raise LogLocked(f"another writer holds the audit log in {directory}") from exc
    return fd
