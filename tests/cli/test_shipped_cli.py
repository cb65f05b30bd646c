"""`audit verify s3://...`, `--shipped`, `--witness-key`, and `audit witness`, against a
real S3-compatible store (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import (
    AuditSettings,
    Cosigner,
    ObjectStore,
    load_private_key,
    write_key_pair,
)
from policy_engine.cli import main
from tests.audit._shipping import PREFIX, ROOT, append, shipper, truncate_to
from tests.servers import S3_ACCESS_KEY, S3_SECRET_KEY, S3Server


@pytest.fixture(autouse=True)
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an auditor sets for boto3: the standard AWS variables."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)


@pytest.fixture
def settings(tmp_path: Path) -> AuditSettings:
    write_key_pair(tmp_path / "keys", Ed25519PrivateKey.generate())
    return AuditSettings(
        dir=tmp_path / "log",
        signing_key_file=tmp_path / "keys" / "audit-signing-key.pem",
        checkpoint_every_records=4,
        segment_max_bytes=1500,
    )


@pytest.fixture
def shipped(settings: AuditSettings, store: ObjectStore) -> AuditSettings:
    ship = shipper(settings, store)
    append(settings, 6)
    ship.ship_once()
    append(settings, 5, start=6)
    ship.ship_once()
    return settings


@pytest.fixture
def witness_key(tmp_path: Path) -> Path:
    write_key_pair(tmp_path / "witness", Ed25519PrivateKey.generate())
    return tmp_path / "witness" / "audit-signing-key.pem"


def public(settings: AuditSettings) -> str:
    return str(settings.signing_key_file.parent / "audit-signing-key.pub.pem")


def verify(s3_server: S3Server, target: str, settings: AuditSettings, *extra: str) -> int:
    return main(
        [
            "audit",
            "verify",
            target,
            "--public-key",
            public(settings),
            "--endpoint-url",
            s3_server.endpoint,
            *extra,
        ]
    )


def witness(
    s3_server: S3Server, bucket: str, settings: AuditSettings, key: Path, state: Path
) -> int:
    return main(
        [
            "audit",
            "witness",
            "--bucket",
            bucket,
            "--prefix",
            PREFIX,
            "--log-key",
            public(settings),
            "--key",
            str(key),
            "--name",
            "witness.example/w1",
            "--state",
            str(state),
            "--endpoint-url",
            s3_server.endpoint,
            "--once",
        ]
    )


def vkey(key: Path) -> str:
    return Cosigner("witness.example/w1", load_private_key(key)).verifier.verifier_key()


def test_verify_passes_on_the_shipped_copy(
    s3_server: S3Server, bucket: str, shipped: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(s3_server, f"s3://{bucket}/{ROOT}", shipped) == 0
    out = capsys.readouterr().out
    assert "OK: 11 records" in out
    assert "2 checkpoints" in out


def test_verify_fails_on_a_shipped_copy_written_over(
    s3_server: S3Server, bucket: str, shipped: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    key = f"{ROOT}/checkpoints/{6:020d}.note"
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=b"another\n")
    assert verify(s3_server, f"s3://{bucket}/{ROOT}", shipped) == 1
    assert "written over" in capsys.readouterr().err


def test_verify_of_a_truncated_local_log_against_its_shipped_copy_fails(
    s3_server: S3Server, bucket: str, shipped: AuditSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(s3_server, str(shipped.dir), shipped) == 0  # alone, the cut log verifies...
    truncate_to(shipped, 6)
    assert verify(s3_server, str(shipped.dir), shipped) == 0
    code = verify(s3_server, str(shipped.dir), shipped, "--shipped", f"s3://{bucket}/{ROOT}")
    assert code == 1  # ...but not against what it shipped
    assert "commits to 11 records but the log holds 6" in capsys.readouterr().err


def test_verify_of_a_rewritten_local_log_against_its_shipped_copy_fails(
    s3_server: S3Server,
    bucket: str,
    shipped: AuditSettings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The whole log rewritten with the signing key: every record and checkpoint is valid.
    (shipped.dir / "shipped.json").unlink()
    for path in [*shipped.dir.glob("segment-*"), *shipped.dir.glob("checkpoints/*")]:
        path.unlink()
    append(shipped, 11, start=500)
    assert verify(s3_server, str(shipped.dir), shipped) == 0
    code = verify(s3_server, str(shipped.dir), shipped, "--shipped", f"s3://{bucket}/{ROOT}")
    assert code == 1
    assert "does not match the root" in capsys.readouterr().err


def test_verify_can_require_a_witness_cosignature(
    s3_server: S3Server,
    bucket: str,
    shipped: AuditSettings,
    witness_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = f"s3://{bucket}/{ROOT}"
    assert verify(s3_server, target, shipped, "--witness-key", vkey(witness_key)) == 1
    assert "no checkpoint in the shipped copy is cosigned" in capsys.readouterr().err
    assert witness(s3_server, bucket, shipped, witness_key, tmp_path / "state") == 0
    assert verify(s3_server, target, shipped, "--witness-key", vkey(witness_key)) == 0
    assert "witness witness.example/w1" in capsys.readouterr().out


def test_a_truncated_local_log_fails_against_its_witnessed_checkpoints(
    s3_server: S3Server,
    bucket: str,
    shipped: AuditSettings,
    witness_key: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    witness(s3_server, bucket, shipped, witness_key, tmp_path / "state")
    truncate_to(shipped, 6)
    args = ("--shipped", f"s3://{bucket}/{ROOT}", "--witness-key", vkey(witness_key))
    assert verify(s3_server, str(shipped.dir), shipped, *args) == 1
    assert "records were truncated" in capsys.readouterr().err


def test_witness_key_needs_a_shipped_copy(
    s3_server: S3Server, shipped: AuditSettings, witness_key: Path
) -> None:
    assert verify(s3_server, str(shipped.dir), shipped, "--witness-key", vkey(witness_key)) == 2


def test_the_witness_prints_its_key_and_exits_1_on_a_refusal(
    s3_server: S3Server,
    bucket: str,
    shipped: AuditSettings,
    witness_key: Path,
    tmp_path: Path,
    store: ObjectStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert witness(s3_server, bucket, shipped, witness_key, tmp_path / "state") == 0
    assert vkey(witness_key) in capsys.readouterr().out
    forged = shipped.model_copy(update={"dir": tmp_path / "forged"})
    append(forged, 3, start=900)
    note = (forged.dir / "checkpoints" / f"{3:020d}.note").read_bytes()
    store.put_locked(f"{ROOT}/checkpoints/{3:020d}.note", note)  # below the accepted 11
    assert witness(s3_server, bucket, shipped, witness_key, tmp_path / "state") == 1
    assert "REFUSED r1 (rollback)" in capsys.readouterr().err
