"""Consistency between checkpoints: proofs built from a log (with or without the leaves
before the old size), checked by someone holding only the two checkpoints; and
`verify_log(since=...)`, which reads only what was appended after a trusted checkpoint."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import pytest

from policy_engine.audit import (
    AuditSettings,
    CompactRange,
    ConsistencyProof,
    NoteError,
    NoteSigner,
    ProofError,
    RootMismatchError,
    VerificationFailure,
    check_consistency,
    consistency_proof,
    consistency_proof_from,
    load_private_key,
    load_public_key,
    prove_consistency,
    sign_note,
    verify_log,
)
from tests.audit._writing import append, intent, open_writer, outcome


def leaves(count: int) -> list[bytes]:
    return [hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(count)]


def test_a_proof_from_the_compact_range_equals_one_from_every_leaf() -> None:
    for size in range(1, 40):
        all_leaves = leaves(size)
        prefix = CompactRange()
        for old in range(1, size + 1):
            prefix.append(all_leaves[old - 1])
            from_range = consistency_proof_from(prefix, all_leaves[old:])
            assert from_range == consistency_proof(all_leaves, old), (old, size)


def public_key(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


@pytest.fixture
def log_dir(settings: AuditSettings) -> Path:
    """20 records (checkpoints every 5), over several segments."""
    settings = settings.model_copy(
        update={"checkpoint_every_records": 5, "segment_max_bytes": 1500}
    )
    with open_writer(settings) as writer:
        append(writer, [outcome(f"req-{i}", None) for i in range(20)])
    return settings.dir


def note(directory: Path, size: int) -> bytes:
    return (directory / "checkpoints" / f"{size:020d}.note").read_bytes()


@pytest.mark.parametrize(("old", "new"), [(5, 20), (10, 15), (15, 20), (20, 20)])
def test_a_proof_from_the_log_checks_between_its_checkpoints(
    log_dir: Path, settings: AuditSettings, old: int, new: int
) -> None:
    proof = prove_consistency(log_dir, old, new)
    checked = check_consistency(
        note(log_dir, old), note(log_dir, new), proof, [public_key(settings)]
    )
    assert [checkpoint.size for checkpoint in checked] == [old, new]


def test_a_proof_is_the_same_without_resume_files(log_dir: Path) -> None:
    with_files = prove_consistency(log_dir, 10, 20)
    for path in (log_dir / "checkpoints").glob("*.resume"):
        path.unlink()
    assert prove_consistency(log_dir, 10, 20) == with_files


def test_a_proof_round_trips_through_json(log_dir: Path) -> None:
    proof = prove_consistency(log_dir, 5)
    assert proof.size2 == 20
    assert ConsistencyProof.from_json(proof.to_json()) == proof


def test_checkpoints_in_the_wrong_order_are_refused(log_dir: Path, settings: AuditSettings) -> None:
    proof = prove_consistency(log_dir, 5, 20)
    with pytest.raises(ProofError, match="larger than the new"):
        check_consistency(note(log_dir, 20), note(log_dir, 5), proof, [public_key(settings)])


def test_a_proof_for_other_sizes_is_refused(log_dir: Path, settings: AuditSettings) -> None:
    proof = prove_consistency(log_dir, 10, 20)
    with pytest.raises(ProofError, match="from size 10 to 20"):
        check_consistency(note(log_dir, 5), note(log_dir, 20), proof, [public_key(settings)])


def test_a_tampered_proof_is_refused(log_dir: Path, settings: AuditSettings) -> None:
    proof = prove_consistency(log_dir, 10, 20)
    bad = ConsistencyProof(10, 20, [bytes(32), *proof.proof[1:]])
    with pytest.raises(ProofError):
        check_consistency(note(log_dir, 10), note(log_dir, 20), bad, [public_key(settings)])


def fork(settings: AuditSettings, log_dir: Path, tmp_path: Path) -> Path:
    """The same log, with record 12 on rewritten and re-signed by the same key: a fork."""
    forked = tmp_path / "fork"
    forked_settings = settings.model_copy(update={"dir": forked, "checkpoint_every_records": 5})
    with open_writer(forked_settings) as writer:
        append(writer, [outcome(f"req-{i}", None) for i in range(12)])
        append(writer, [outcome(f"forged-{i}", None) for i in range(12, 20)])
    return forked


def test_a_checkpoint_of_a_fork_signed_by_the_same_key_is_not_consistent(
    log_dir: Path, settings: AuditSettings, tmp_path: Path
) -> None:
    forked = fork(settings, log_dir, tmp_path)
    proof = prove_consistency(forked, 10, 20)
    with pytest.raises(RootMismatchError):
        check_consistency(note(log_dir, 10), note(forked, 20), proof, [public_key(settings)])


def under_staging(directory: Path, size: int, settings: AuditSettings) -> bytes:
    """Checkpoint `size` as the same key would sign it for another log, staging/audit."""
    key = load_private_key(settings.signing_key_file)
    body = note(directory, size).decode().split("\n\n")[0] + "\n"
    staging = body.replace("policy-engine/audit", "staging/audit")
    return sign_note(staging, [NoteSigner("staging/audit", key)]).encode()


def test_a_checkpoint_under_another_origin_is_refused(
    log_dir: Path, settings: AuditSettings
) -> None:
    proof = prove_consistency(log_dir, 10, 20)
    staging = under_staging(log_dir, 20, settings)
    with pytest.raises(NoteError):
        check_consistency(note(log_dir, 10), staging, proof, [public_key(settings)])


def test_verify_since_a_checkpoint_checks_only_what_came_after_it(
    log_dir: Path, settings: AuditSettings
) -> None:
    report = verify_log(log_dir, [public_key(settings)], since=("held", note(log_dir, 10)))
    assert (report.first_seq, report.records, report.consistent_to) == (10, 10, 20)
    assert report.checkpoints == 2  # 15 and 20


def _damage_record(directory: Path, seq: int) -> None:
    """Change record `seq`'s request id: still canonical JSON, no longer its signature."""
    for path in sorted(directory.glob("segment-*.jsonl")):
        data = path.read_bytes()
        marker = f'"req-{seq}"'.encode()
        if marker in data:
            path.write_bytes(data.replace(marker, f'"req-x{seq}"'.encode()))
            return
    raise LookupError(seq)


def test_verify_since_a_checkpoint_does_not_read_the_records_under_it(
    log_dir: Path, settings: AuditSettings
) -> None:
    _damage_record(log_dir, 3)
    with pytest.raises(VerificationFailure):
        verify_log(log_dir, [public_key(settings)])
    verify_log(log_dir, [public_key(settings)], since=("held", note(log_dir, 10)))


def test_verify_since_a_checkpoint_names_damage_after_it(
    log_dir: Path, settings: AuditSettings
) -> None:
    _damage_record(log_dir, 13)
    with pytest.raises(VerificationFailure, match=r"\(seq 13\): signature does not verify"):
        verify_log(log_dir, [public_key(settings)], since=("held", note(log_dir, 10)))


def test_verify_since_a_checkpoint_of_a_fork_fails_at_that_checkpoint(
    log_dir: Path, settings: AuditSettings, tmp_path: Path
) -> None:
    forked = fork(settings, log_dir, tmp_path)
    with pytest.raises(
        VerificationFailure, match="do not hash to this checkpoint's root"
    ) as caught:
        verify_log(forked, [public_key(settings)], since=("held", note(log_dir, 15)))
    assert caught.value.where == "held"


def test_verify_since_a_checkpoint_larger_than_the_log_reports_truncation(
    log_dir: Path, settings: AuditSettings, tmp_path: Path
) -> None:
    held = note(log_dir, 20)
    shorter = tmp_path / "shorter"
    shutil.copytree(log_dir, shorter)
    for path in (shorter / "checkpoints").glob("000000000000000000[12]*"):
        path.unlink()
    last = sorted(shorter.glob("segment-*.jsonl"))[-1]
    last.write_bytes(b"".join(last.read_bytes().splitlines(keepends=True)[:-1]))
    with pytest.raises(VerificationFailure, match="fewer than 20: records were truncated"):
        verify_log(shorter, [public_key(settings)], since=("held", held))


def test_verify_since_a_checkpoint_under_another_origin_is_refused(
    log_dir: Path, settings: AuditSettings
) -> None:
    staging = under_staging(log_dir, 10, settings)
    with pytest.raises(VerificationFailure, match="no signature"):
        verify_log(log_dir, [public_key(settings)], since=("held", staging))


def test_verify_since_a_checkpoint_pairs_outcomes_with_intents_after_it(
    settings: AuditSettings,
) -> None:
    settings = settings.model_copy(update={"checkpoint_every_records": 2})
    with open_writer(settings) as writer:
        append(writer, [intent("early"), outcome("x", None)])  # checkpoint 2
        append(writer, [outcome("early", 0), intent("late"), outcome("late", 3), intent("cut")])
    held = note(settings.dir, 2)
    report = verify_log(settings.dir, [public_key(settings)], since=("held", held))
    assert [item.request_id for item in report.interrupted] == ["cut"]
