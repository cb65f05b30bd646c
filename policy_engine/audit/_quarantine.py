"""Where recovery moves the bytes it takes out of a segment, so that none is deleted.

A torn or damaged tail goes to `quarantine/<seq>-<sha256 prefix>.bin`, where seq is
the one its recovery record takes; that signed record carries the file's name, size
and SHA-256, and `verify` checks them and reads the records still whole inside.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine.audit._errors import RecordError
from policy_engine.audit._record import parse_record
from policy_engine.audit._store import QUARANTINE_DIR, fsync_directory, split_lines, write_durably

_NAME = re.compile(rf"{QUARANTINE_DIR}/(\d{{20}})-[0-9a-f]{{16}}\.bin")


def quarantine_name(seq: int, data: bytes) -> str:
    return f"{QUARANTINE_DIR}/{seq:020d}-{hashlib.sha256(data).hexdigest()[:16]}.bin"


def quarantine(directory: Path, seq: int, data: bytes) -> str:
    """Durably keep `data` under the quarantine folder; its name relative to `directory`."""
    name = quarantine_name(seq, data)
    folder = directory / QUARANTINE_DIR
    if not folder.is_dir():
        folder.mkdir()
        fsync_directory(directory)
    path = directory / name
    # Already there after a crash between this write and the cut that follows it.
    if not (path.is_file() and path.read_bytes() == data):
        write_durably(path, data)
    return name


def list_quarantine(directory: Path) -> list[tuple[int, str]]:
    """(seq of its recovery record, name) of every quarantine file, by seq."""
    folder = directory / QUARANTINE_DIR
    if not folder.is_dir():
        return []
    found = [
        (int(match.group(1)), name)
        for path in folder.iterdir()
        if (match := _NAME.fullmatch(name := f"{QUARANTINE_DIR}/{path.name}"))
    ]
    return sorted(found)


def quarantine_seq(name: object) -> int | None:
    """The seq a quarantine file name carries, or None for anything else."""
    match = _NAME.fullmatch(name) if isinstance(name, str) else None
    return None if match is None else int(match.group(1))


@dataclass(frozen=True)
class Quarantined:
    """A tail recovery took out of the log, as its recovery record and the file show it."""

    recovery_seq: int
    file: str | None  # None: cut by a version that did not keep the bytes
    size: int
    sha256: str
    records: tuple[int, ...]  # seqs of the whole records inside signed by a trusted key


def read_quarantined(
    directory: Path,
    recovery_seq: int,
    event: Mapping[str, Any],
    trusted: Mapping[str, Ed25519PublicKey],
) -> Quarantined:
    """Check the quarantine file a recovery record's event names; raise RecordError when
    it is missing or does not match what the record says."""
    size, digest, name = event.get("cut_bytes"), event.get("cut_sha256"), event.get("quarantine")
    if type(size) is not int or not isinstance(digest, str):
        raise RecordError("recovery record without cut_bytes and cut_sha256")
    if name is None:
        return Quarantined(recovery_seq, None, size, digest, ())
    if quarantine_seq(name) is None:
        raise RecordError(f"recovery record names {name!r}, not a quarantine file")
    try:
        data = (directory / str(name)).read_bytes()
    except OSError as exc:
        raise RecordError(f"quarantine file {name} is missing: {exc.strerror}") from exc
    if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
        raise RecordError(
            f"quarantine file {name} has {len(data)} bytes, SHA-256 "
            f"{hashlib.sha256(data).hexdigest()}; the recovery record says {size}, {digest}"
        )
    return Quarantined(recovery_seq, str(name), size, digest, _signed_records(data, trusted))


def _signed_records(data: bytes, trusted: Mapping[str, Ed25519PublicKey]) -> tuple[int, ...]:
    seqs: list[int] = []
    for line in split_lines(data):
        try:
            record = parse_record(line.data)
            record.verify(trusted)
        except RecordError:
            continue
        seqs.append(record.seq)
    return tuple(seqs)
