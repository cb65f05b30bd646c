"""Shipping the log to a real S3-compatible store (SeaweedFS) with object lock."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from prometheus_client import CollectorRegistry

from policy_engine.audit import (
    AuditSettings,
    ObjectStore,
    ShipConflict,
    VerificationFailure,
    fetch_shipped,
    load_private_key,
    s3_client,
    verify_consistency,
    verify_log,
)
from tests.audit._shipping import ROOT, append, shipper, truncate_to
from tests.servers import S3Server


@pytest.fixture
def log_settings(settings: AuditSettings) -> AuditSettings:
    return settings.model_copy(update={"segment_max_bytes": 1500, "checkpoint_every_records": 4})


def trusted(settings: AuditSettings) -> list[object]:
    return [load_private_key(settings.signing_key_file).public_key()]


def test_the_shipped_copy_rebuilds_a_log_that_verifies(
    log_settings: AuditSettings, store: ObjectStore, tmp_path: Path
) -> None:
    ship = shipper(log_settings, store)
    append(log_settings, 10)
    assert ship.ship_once() == 10
    append(log_settings, 7, start=10)
    assert ship.ship_once() == 7
    copy = fetch_shipped(store, ROOT, tmp_path / "copy")
    report = verify_log(tmp_path / "copy", trusted(log_settings))  # type: ignore[arg-type]
    assert report.records == 17
    assert copy.segments >= 3
    assert [label.rsplit("/", 1)[1] for label, _ in copy.checkpoints] == [
        f"{10:020d}.note",
        f"{17:020d}.note",
    ]


def test_each_checkpoint_after_the_first_carries_a_proof_from_the_one_before(
    log_settings: AuditSettings, store: ObjectStore, tmp_path: Path
) -> None:
    ship = shipper(log_settings, store)
    roots = {}
    for round_ in range(3):
        append(log_settings, 5, start=5 * round_)
        ship.ship_once()
        roots[ship.state.size] = ship.state.frontier.root()  # type: ignore[union-attr]
    for old, new in ((5, 10), (10, 15)):
        document = json.loads(store.get(f"{ROOT}/proofs/{new:020d}.json") or b"")
        assert document["old_size"] == old
        proof = [base64.b64decode(node) for node in document["proof"]]
        verify_consistency(old, new, proof, roots[old], roots[new])
    assert store.get(f"{ROOT}/proofs/{5:020d}.json") is None


def test_nothing_new_ships_nothing(log_settings: AuditSettings, store: ObjectStore) -> None:
    ship = shipper(log_settings, store)
    append(log_settings, 4)
    ship.ship_once()
    assert ship.ship_once() == 0


def test_a_shipped_object_cannot_be_deleted(
    log_settings: AuditSettings, store: ObjectStore, s3_server: S3Server, bucket: str
) -> None:
    append(log_settings, 4)
    shipper(log_settings, store).ship_once()
    client = s3_server.client()
    key = f"{ROOT}/checkpoints/{4:020d}.note"
    version = client.head_object(Bucket=bucket, Key=key)["VersionId"]
    with pytest.raises(ClientError):
        client.delete_object(Bucket=bucket, Key=key, VersionId=version)
    assert store.get(key) is not None


def test_a_shipped_object_written_over_fails_verification(
    log_settings: AuditSettings,
    store: ObjectStore,
    s3_server: S3Server,
    bucket: str,
    tmp_path: Path,
) -> None:
    append(log_settings, 4)
    shipper(log_settings, store).ship_once()
    key = f"{ROOT}/checkpoints/{4:020d}.note"
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=b"rewritten\n")
    with pytest.raises(VerificationFailure, match="written over: 2 versions"):
        fetch_shipped(store, ROOT, tmp_path / "copy")


def test_shipping_writes_each_object_once_only(
    log_settings: AuditSettings, store: ObjectStore
) -> None:
    append(log_settings, 4)
    shipper(log_settings, store).ship_once()
    with pytest.raises(ShipConflict, match="already holds different bytes"):
        store.put_locked(f"{ROOT}/checkpoints/{4:020d}.note", b"another note\n")


def test_the_upload_state_survives_a_restart(
    log_settings: AuditSettings, store: ObjectStore
) -> None:
    append(log_settings, 6)
    shipper(log_settings, store).ship_once()
    append(log_settings, 3, start=6)
    registry = CollectorRegistry()
    again = shipper(log_settings, store, registry)
    assert again.state.size == 6
    assert again.ship_once() == 3
    assert (
        registry.get_sample_value("policy_engine_audit_ship_uploads_total", {"kind": "proof"}) == 1
    )


def test_a_lost_upload_state_is_read_back_from_the_bucket(
    log_settings: AuditSettings, store: ObjectStore, tmp_path: Path
) -> None:
    append(log_settings, 6)
    shipper(log_settings, store).ship_once()
    (log_settings.dir / "shipped.json").unlink()
    append(log_settings, 3, start=6)
    again = shipper(log_settings, store)
    assert again.ship_once() == 3
    fetch_shipped(store, ROOT, tmp_path / "copy")
    assert verify_log(tmp_path / "copy", trusted(log_settings)).records == 9  # type: ignore[arg-type]


def test_a_crash_before_the_state_is_saved_repeats_uploads_harmlessly(
    log_settings: AuditSettings, store: ObjectStore
) -> None:
    append(log_settings, 5)
    first = shipper(log_settings, store)
    first.ship_once()
    saved = (log_settings.dir / "shipped.json").read_bytes()
    append(log_settings, 5, start=5)
    first.ship_once()
    (log_settings.dir / "shipped.json").write_bytes(saved)  # as if it crashed before saving
    again = shipper(log_settings, store)
    assert again.ship_once() == 5
    assert again.conflict is None


def test_a_truncated_log_is_refused_not_shipped(
    log_settings: AuditSettings, store: ObjectStore
) -> None:
    ship = shipper(log_settings, store)
    append(log_settings, 8)
    ship.ship_once()
    truncate_to(log_settings, 4)
    append(log_settings, 6, start=100)  # a new history from record 4 on
    with pytest.raises(ShipConflict, match=r"rolled back or rewritten|truncated"):
        ship.ship_once()


def test_a_replaced_log_under_the_same_name_is_refused(
    log_settings: AuditSettings, store: ObjectStore, tmp_path: Path
) -> None:
    append(log_settings, 6)
    shipper(log_settings, store).ship_once()
    other = log_settings.model_copy(update={"dir": tmp_path / "other-log"})
    append(other, 9)
    with pytest.raises(ShipConflict, match="not the one shipped"):
        shipper(other, store).ship_once()


def test_the_backlog_shows_in_metrics_and_past_its_bound_in_readiness(
    log_settings: AuditSettings, bucket: str
) -> None:
    client = s3_client("http://127.0.0.1:9", "us-east-1", 0.5, credentials=("id", "secret"))
    unreachable = ObjectStore(client, bucket)
    registry = CollectorRegistry()
    ship = shipper(log_settings, unreachable, registry, max_backlog=5)
    append(log_settings, 8)
    asyncio.run(ship.round())
    assert registry.get_sample_value("policy_engine_audit_ship_backlog_records") == 8
    assert (
        registry.get_sample_value(
            "policy_engine_audit_ship_failures_total", {"reason": "unavailable"}
        )
        == 1
    )
    assert not ship.ready


def test_a_conflict_turns_readiness_red_at_once(
    log_settings: AuditSettings, store: ObjectStore
) -> None:
    ship = shipper(log_settings, store)
    append(log_settings, 8)
    ship.ship_once()
    truncate_to(log_settings, 4)
    append(log_settings, 6, start=100)
    asyncio.run(ship.round())
    assert ship.conflict is not None
    assert not ship.ready


def test_a_bucket_without_object_lock_takes_no_upload(
    log_settings: AuditSettings, s3_server: S3Server
) -> None:
    s3_server.client().create_bucket(Bucket="no-lock")
    ship = shipper(log_settings, ObjectStore(s3_server.client(), "no-lock"))
    append(log_settings, 4)
    asyncio.run(ship.round())
    assert ship.state.size == 0
    assert "Contents" not in s3_server.client().list_objects_v2(Bucket="no-lock")
