"""verify_log detects every kind of tampering and names the first bad record or checkpoint."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from policy_engine.audit import (
    AuditLog,
    AuditSettings,
    NoteSigner,
    RecordSigner,
    VerificationFailure,
    iter_records,
    load_private_key,
    record_key_id,
    sign_note,
    verify_log,
    write_key_pair,
)

RECORDS = 12
TARGET = 4  # the record each test tampers with; mid-segment


@pytest.fixture
def log_dir(settings: AuditSettings) -> Path:
    """A closed log of RECORDS records over several segments, checkpointed every 4."""
    settings = settings.model_copy(
        update={"segment_max_bytes": 1100, "checkpoint_every_records": 4, "fsync": "every_record"}
    )

    async def fill() -> None:
        log = await AuditLog.open(settings)
        for i in range(RECORDS):
            await log.append({"request_id": f"req-{i}", "tenant": "acme-eu", "outcome": "answered"})
        await log.close()

    asyncio.run(fill())
    assert len(list(settings.dir.glob("segment-*.jsonl"))) >= 3
    return settings.dir


@pytest.fixture
def key(settings: AuditSettings) -> Ed25519PrivateKey:
    return load_private_key(settings.signing_key_file)


@pytest.fixture
def trusted(key: Ed25519PrivateKey) -> list[Ed25519PublicKey]:
    return [key.public_key()]


def locate(directory: Path, seq: int) -> tuple[Path, int]:
    """The segment file and 0-based line index holding record `seq`."""
    for where, record in iter_records(directory):
        if record.seq == seq:
            name, _, line = where.partition(" line ")
            return directory / name, int(line) - 1
    raise LookupError(seq)


def read(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def failure(directory: Path, keys: list[Ed25519PublicKey], **held: bytes) -> VerificationFailure:
    with pytest.raises(VerificationFailure) as caught:
        verify_log(directory, keys, list(held.items()))
    return caught.value


def named(path: Path, index: int, seq: int) -> str:
    return f"{path.name} line {index + 1} (seq {seq})"


def test_an_untouched_log_verifies(log_dir: Path, trusted: list[Ed25519PublicKey]) -> None:
    report = verify_log(log_dir, trusted)
    assert (report.records, report.checkpoints) == (RECORDS, 3)


def _flip_in_field(line: bytes, field: str) -> bytes:
    """Change one byte inside `field`'s value, keeping it JSON: a letter or digit swapped."""
    start = line.index(f'"{field}":'.encode()) + len(field) + 3
    match = re.compile(rb"[0-9A-Za-z]").search(line, start)
    assert match is not None
    old = line[match.start() : match.start() + 1]
    # Stay in the character's class so hex stays hex and base64 stays base64.
    choices = b"73" if old.isdigit() else b"bc" if old in b"abcdef" else b"QR"
    new = bytes([choices[0] if old != choices[:1] else choices[1]])
    return line[: match.start()] + new + line[match.start() + 1 :]


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("at", "signature does not verify"),
        ("event", "signature does not verify"),
        ("kid", "signed by untrusted key id"),
        ("kind", "is not one of"),
        ("prev", "hash chain broken"),
        ("seq", f"where {TARGET} was expected"),
        ("sig", "signature does not verify"),
    ],
)
def test_changing_one_byte_of_any_field_names_that_record(
    log_dir: Path, trusted: list[Ed25519PublicKey], field: str, reason: str
) -> None:
    path, index = locate(log_dir, TARGET)
    lines = read(path)
    lines[index] = _flip_in_field(lines[index], field)
    path.write_bytes(b"".join(lines))
    found = failure(log_dir, trusted)
    assert found.where.startswith(f"{path.name} line {index + 1} (seq ")
    assert reason in found.reason


def test_deleting_a_record_names_the_one_after_the_gap(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    path, index = locate(log_dir, TARGET)
    lines = read(path)
    del lines[index]
    path.write_bytes(b"".join(lines))
    assert failure(log_dir, trusted).reason.startswith(f"seq {TARGET + 1} where {TARGET} ")


def test_inserting_a_copied_record_names_the_insertion(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    source, source_index = locate(log_dir, 1)
    path, index = locate(log_dir, TARGET)
    lines = read(path)
    lines.insert(index, read(source)[source_index])
    path.write_bytes(b"".join(lines))
    assert failure(log_dir, trusted).where == named(path, index, 1)


def test_swapping_two_records_names_the_first_swapped(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    path, index = locate(log_dir, TARGET)
    lines = read(path)
    if index + 1 >= len(lines):
        pytest.fail("fixture should put TARGET and TARGET + 1 in one segment")
    lines[index], lines[index + 1] = lines[index + 1], lines[index]
    path.write_bytes(b"".join(lines))
    assert failure(log_dir, trusted).where == named(path, index, TARGET + 1)


def test_truncating_the_log_is_caught_by_the_last_checkpoint(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    path, index = locate(log_dir, RECORDS - 1)
    path.write_bytes(b"".join(read(path)[:index]))
    found = failure(log_dir, trusted)
    assert found.where == f"checkpoints/{RECORDS:020d}.note"
    assert "truncated" in found.reason


def test_truncation_with_checkpoints_removed_is_caught_by_a_held_checkpoint(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    held = (log_dir / "checkpoints" / f"{RECORDS:020d}.note").read_bytes()
    shutil.rmtree(log_dir / "checkpoints")
    path, index = locate(log_dir, RECORDS - 2)
    path.write_bytes(b"".join(read(path)[:index]))
    verify_log(log_dir, trusted)  # without outside knowledge the shorter log looks whole
    assert failure(log_dir, trusted, **{"held.note": held}).where == "held.note"


def test_a_torn_last_line_is_reported(log_dir: Path, trusted: list[Ed25519PublicKey]) -> None:
    path, _ = locate(log_dir, RECORDS - 1)
    path.write_bytes(path.read_bytes()[:-10])
    assert "torn" in failure(log_dir, trusted).reason


def test_dropping_a_middle_segment_names_the_first_record_after_it(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    segments = sorted(log_dir.glob("segment-*.jsonl"))
    dropped_records = len(read(segments[1]))
    first_after = len(read(segments[0])) + dropped_records
    segments[1].unlink()
    assert failure(log_dir, trusted).where == named(segments[2], 0, first_after)


def test_dropping_the_last_segment_is_caught_by_a_checkpoint(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    sorted(log_dir.glob("segment-*.jsonl"))[-1].unlink()
    assert "truncated" in failure(log_dir, trusted).reason


def _resign(log_dir: Path, signer: RecordSigner) -> tuple[Path, int]:
    path, index = locate(log_dir, TARGET)
    lines = read(path)
    original = dict(iter_records(log_dir))[f"{path.name} line {index + 1}"]
    forged = signer.seal(
        seq=original.seq,
        prev=original.prev,
        at=original.at,
        kind=original.kind,
        event={**original.event, "outcome": "denied"},
    )
    lines[index] = forged + b"\n"
    path.write_bytes(b"".join(lines))
    return path, index


def test_a_record_resigned_with_an_untrusted_key_is_named(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    path, index = _resign(log_dir, RecordSigner(Ed25519PrivateKey.generate()))
    found = failure(log_dir, trusted)
    assert found.where == named(path, index, TARGET)
    assert "untrusted key id" in found.reason


def test_a_forged_signature_under_a_trusted_key_id_is_named(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    impostor = RecordSigner(Ed25519PrivateKey.generate())
    impostor.kid = record_key_id(trusted[0])
    path, index = _resign(log_dir, impostor)
    found = failure(log_dir, trusted)
    assert found.where == named(path, index, TARGET)
    assert "signature does not verify" in found.reason


def test_a_log_checked_against_the_wrong_key_fails_at_the_first_record(log_dir: Path) -> None:
    found = failure(log_dir, [Ed25519PrivateKey.generate().public_key()])
    assert found.where == named(log_dir / "segment-00000001.jsonl", 0, 0)


def test_a_tampered_checkpoint_is_named(log_dir: Path, trusted: list[Ed25519PublicKey]) -> None:
    path = log_dir / "checkpoints" / f"{8:020d}.note"
    path.write_text(path.read_text().replace("\n8\n", "\n9\n"))
    assert failure(log_dir, trusted).where == f"checkpoints/{8:020d}.note"


def test_a_checkpoint_with_a_wrong_root_is_named(
    log_dir: Path, key: Ed25519PrivateKey, trusted: list[Ed25519PublicKey]
) -> None:
    body = f"policy-engine/audit\n8\n{base64.b64encode(bytes(32)).decode()}\n"
    forged = sign_note(body, [NoteSigner("policy-engine/audit", key)])
    found = failure(log_dir, trusted, **{"elsewhere.note": forged.encode()})
    assert found.where == "elsewhere.note"
    assert "does not match the root" in found.reason


def test_records_of_rotated_keys_verify_against_all_trusted_keys(
    log_dir: Path, settings: AuditSettings, trusted: list[Ed25519PublicKey], tmp_path: Path
) -> None:
    new_key = Ed25519PrivateKey.generate()
    private, _ = write_key_pair(tmp_path / "rotated", new_key)
    rotated = settings.model_copy(update={"dir": log_dir, "signing_key_file": private})

    async def more() -> None:
        log = await AuditLog.open(rotated)
        await log.append({"request_id": "after-rotation"})
        await log.close()

    asyncio.run(more())
    report = verify_log(log_dir, [*trusted, new_key.public_key()])
    assert report.records_by_key == {
        record_key_id(trusted[0]): RECORDS,
        record_key_id(new_key.public_key()): 1,
    }
    found = failure(log_dir, trusted)
    assert (found.where, found.reason) == (
        named(*locate(log_dir, RECORDS), RECORDS),
        f"signed by untrusted key id {record_key_id(new_key.public_key())!r}",
    )


def test_worker_processes_give_the_same_report(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    assert verify_log(log_dir, trusted, jobs=2) == verify_log(log_dir, trusted)


def test_worker_processes_name_the_same_first_fault(
    log_dir: Path, trusted: list[Ed25519PublicKey]
) -> None:
    path, index = locate(log_dir, TARGET)
    lines = read(path)
    lines[index] = _flip_in_field(lines[index], "seq")  # also breaks the signature
    path.write_bytes(b"".join(lines))
    alone = failure(log_dir, trusted)
    with pytest.raises(VerificationFailure) as caught:
        verify_log(log_dir, trusted, jobs=2)
    shared = caught.value
    assert (shared.where, shared.reason) == (alone.where, alone.reason)
    assert f"where {TARGET} was expected" in alone.reason
