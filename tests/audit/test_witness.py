"""The witness follows shipped checkpoints in a real S3 store, cosigns consistent ones,
and refuses rollbacks and forks (counted and logged)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from policy_engine.audit import (
    AuditSettings,
    Cosigner,
    NoteVerifier,
    ObjectStore,
    Witness,
    WitnessMetrics,
    consistency_proof,
    iter_records,
    load_private_key,
    open_note,
    tree_root,
    write_key_pair,
)
from tests.audit._shipping import PREFIX, REPLICA, ROOT, append, shipper


@pytest.fixture
def log_settings(settings: AuditSettings) -> AuditSettings:
    return settings.model_copy(update={"checkpoint_every_records": 1000})


@pytest.fixture
def cosigner() -> Cosigner:
    return Cosigner("witness.example/w1", Ed25519PrivateKey.generate())


class Fixture:
    def __init__(
        self, settings: AuditSettings, store: ObjectStore, cosigner: Cosigner, state: Path
    ):
        self.settings = settings
        self.store = store
        self.cosigner = cosigner
        self.state = state
        self.witness = self.restart()

    def restart(self) -> Witness:
        """A new witness process: its memory is only what it saved."""
        self.registry = CollectorRegistry()
        key = load_private_key(self.settings.signing_key_file).public_key()
        self.witness = Witness(
            self.store, PREFIX, [key], self.cosigner, self.state, WitnessMetrics(self.registry)
        )
        return self.witness

    def refused(self, reason: str) -> float:
        value = self.registry.get_sample_value(
            "policy_engine_witness_refused_total", {"reason": reason}
        )
        return value or 0.0

    def cosigned(self) -> list[int]:
        prefix = f"{ROOT}/cosignatures/{self.cosigner.verifier.key_hash.hex()}/"
        return [int(key.rsplit("/", 1)[1].split(".")[0]) for key in self.store.keys(prefix)]


@pytest.fixture
def fx(
    log_settings: AuditSettings, store: ObjectStore, cosigner: Cosigner, tmp_path: Path
) -> Fixture:
    return Fixture(log_settings, store, cosigner, tmp_path / "witness")


def ship_rounds(fx: Fixture, *counts: int) -> None:
    ship = shipper(fx.settings, fx.store)
    start = 0
    for count in counts:
        append(fx.settings, count, start)
        start += count
        ship.ship_once()


def leaves(directory: Path) -> list[bytes]:
    return [record.leaf_hash for _, record in iter_records(directory)]


def test_each_shipped_checkpoint_is_cosigned_in_order(fx: Fixture) -> None:
    ship_rounds(fx, 3, 2, 4)
    assert fx.witness.poll() == []
    assert fx.cosigned() == [3, 5, 9]
    assert fx.witness.view(REPLICA).size == 9


def test_a_stored_cosignature_verifies_with_the_witness_key_and_the_log_key(fx: Fixture) -> None:
    ship_rounds(fx, 3)
    fx.witness.poll()
    key = f"{ROOT}/cosignatures/{fx.cosigner.verifier.key_hash.hex()}/{3:020d}.note"
    note = (fx.store.get(key) or b"").decode()
    assert fx.cosigner.verifier.verify(note) > 0
    log_key = load_private_key(fx.settings.signing_key_file).public_key()
    assert open_note(note.encode(), [NoteVerifier(note.split("\n", 1)[0], log_key)]).text


def test_the_witness_resumes_from_its_saved_state(fx: Fixture) -> None:
    ship_rounds(fx, 3)
    fx.witness.poll()
    ship = shipper(fx.settings, fx.store)
    append(fx.settings, 2, 3)
    ship.ship_once()
    fx.restart().poll()
    assert fx.cosigned() == [3, 5]


def forged_log(fx: Fixture, tmp_path: Path, records: int) -> AuditSettings:
    """Another history of the same log: same key, same origin, different records."""
    other = fx.settings.model_copy(update={"dir": tmp_path / "forged"})
    append(other, records, start=1000)
    return other


def put(fx: Fixture, name: str, data: bytes) -> None:
    fx.store.put_locked(f"{ROOT}/{name}", data)


def checkpoint_note(settings: AuditSettings, size: int) -> bytes:
    return (settings.dir / "checkpoints" / f"{size:020d}.note").read_bytes()


def proof_document(old_size: int, old_root: bytes, proof: list[bytes]) -> bytes:
    return json.dumps(
        {
            "old_size": old_size,
            "old_root": base64.b64encode(old_root).decode(),
            "proof": [base64.b64encode(node).decode() for node in proof],
        }
    ).encode()


def test_a_forked_log_is_refused_counted_and_logged(fx: Fixture, tmp_path: Path) -> None:
    ship_rounds(fx, 4)
    fx.witness.poll()
    accepted = fx.witness.view(REPLICA)
    forged = forged_log(fx, tmp_path, 8)
    forged_leaves = leaves(forged.dir)
    # The forger claims its size-8 tree extends the accepted size-4 one.
    put(fx, f"checkpoints/{8:020d}.note", checkpoint_note(forged, 8))
    put(
        fx,
        f"proofs/{8:020d}.json",
        proof_document(4, accepted.root, consistency_proof(forged_leaves, 4)),
    )
    with capture_logs() as logs:
        refusals = fx.witness.poll()
    assert [(r[0], r[1]) for r in refusals] == [(REPLICA, "fork")]
    assert fx.refused("fork") == 1
    assert any(entry["event"] == "witness_refused" for entry in logs)
    assert fx.cosigned() == [4]
    assert fx.witness.view(REPLICA).size == 4


def test_a_checkpoint_extending_a_smaller_tree_is_a_rollback(fx: Fixture, tmp_path: Path) -> None:
    ship_rounds(fx, 4)
    fx.witness.poll()
    forged = forged_log(fx, tmp_path, 8)
    forged_leaves = leaves(forged.dir)
    put(fx, f"checkpoints/{8:020d}.note", checkpoint_note(forged, 8))
    put(
        fx,
        f"proofs/{8:020d}.json",
        proof_document(2, tree_root(forged_leaves[:2]), consistency_proof(forged_leaves, 2)),
    )
    assert [r[1] for r in fx.witness.poll()] == ["rollback"]
    assert fx.refused("rollback") == 1


def test_a_new_checkpoint_at_or_below_the_accepted_size_is_a_rollback(
    fx: Fixture, tmp_path: Path
) -> None:
    ship_rounds(fx, 6)
    fx.witness.poll()
    forged = forged_log(fx, tmp_path, 3)
    put(fx, f"checkpoints/{3:020d}.note", checkpoint_note(forged, 3))
    assert [r[1] for r in fx.witness.poll()] == ["rollback"]


def test_a_refusal_is_counted_once_however_often_it_is_seen(fx: Fixture, tmp_path: Path) -> None:
    ship_rounds(fx, 6)
    fx.witness.poll()
    forged = forged_log(fx, tmp_path, 3)
    put(fx, f"checkpoints/{3:020d}.note", checkpoint_note(forged, 3))
    fx.witness.poll()
    fx.witness.poll()
    assert fx.refused("rollback") == 1


def test_a_checkpoint_signed_by_another_key_is_refused(fx: Fixture, tmp_path: Path) -> None:
    ship_rounds(fx, 4)
    fx.witness.poll()
    write_key_pair(tmp_path / "k", Ed25519PrivateKey.generate())
    stranger = fx.settings.model_copy(
        update={
            "dir": tmp_path / "stranger",
            "signing_key_file": tmp_path / "k" / "audit-signing-key.pem",
        }
    )
    append(stranger, 8)
    put(fx, f"checkpoints/{8:020d}.note", checkpoint_note(stranger, 8))
    assert [r[1] for r in fx.witness.poll()] == ["signature"]


def test_a_checkpoint_without_a_proof_is_refused(fx: Fixture, tmp_path: Path) -> None:
    ship_rounds(fx, 4)
    fx.witness.poll()
    forged = forged_log(fx, tmp_path, 8)
    put(fx, f"checkpoints/{8:020d}.note", checkpoint_note(forged, 8))
    assert [r[1] for r in fx.witness.poll()] == ["proof"]
