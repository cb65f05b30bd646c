"""The sidecar ships its log to a real S3 store; a replica log truncated afterwards is
caught by the sidecar itself, by `audit verify` against the shipped copy, and by the
witness when the rolled-back history reaches the bucket.

Requests are sent one at a time, so each record is a batch of its own, and checkpoints
come every 4 records only (none on a timer): the log's checkpoints are at 4, 8, 12...
however slow the machine, though which of them a round ships depends on timing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import Settings
from policy_engine.audit import Cosigner, ObjectStore, load_private_key, write_key_pair
from policy_engine.cli import main
from tests.audit._shipping import truncate_to
from tests.fakes import FakeProvider
from tests.servers import S3_ACCESS_KEY, S3_SECRET_KEY, S3Server
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

CHAT = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}
PREFIX = "fleet"
REPLICA = "replica-a"
RECORDS_PER_REQUEST = 2  # its intent and its outcome
TIMEOUT_S = 60.0  # a liveness bound for a loaded machine, not a speed measurement


@pytest.fixture(autouse=True)
def s3_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("openai", name="alpha") as provider:
        yield provider


@pytest.fixture
def settings(tmp_path: Path, fake: FakeProvider, s3_server: S3Server, bucket: str) -> Settings:
    return build_settings(
        tmp_path,
        [ProviderSpec("alpha", fake)],
        audit={
            "checkpoint_every_records": 4,
            "checkpoint_every_seconds": 3600,
            "origin": "example.com/audit/{replica}",
        },
        fleet={"replica": REPLICA},
        shipping={
            "bucket": bucket,
            "prefix": PREFIX,
            "endpoint_url": s3_server.endpoint,
            "addressing_style": "path",
            "interval_s": 0.05,
            "retention_days": 1,
            "max_backlog_records": 1000,
        },
    )


async def serve(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, requests: int
) -> RunningSidecar:
    sidecar = await start_sidecar(settings, monkeypatch)
    async with httpx.AsyncClient(base_url=sidecar.url, timeout=TIMEOUT_S) as http:
        for _ in range(requests):
            answer = await http.post(
                "/v1/chat/completions", json=CHAT, headers={"X-Tenant-ID": "sandbox"}
            )
            assert answer.status_code == 200
    return sidecar


def public_key(settings: Settings) -> str:
    return str(settings.audit.signing_key_file.parent / "audit-signing-key.pub.pem")


def witness(s3_server: S3Server, bucket: str, settings: Settings, key: Path, state: Path) -> int:
    return main(
        [
            *("audit", "witness", "--bucket", bucket, "--prefix", PREFIX),
            *("--log-key", public_key(settings), "--key", str(key)),
            *("--name", "witness.example/w1", "--state", str(state)),
            *("--endpoint-url", s3_server.endpoint, "--once"),
        ]
    )


def verify(s3_server: S3Server, target: str, settings: Settings, *extra: str) -> int:
    return main(
        [
            *("audit", "verify", target, "--public-key", public_key(settings)),
            *("--origin", settings.audit.origin, "--endpoint-url", s3_server.endpoint, *extra),
        ]
    )


async def eventually(condition: Callable[[], bool]) -> bool:
    """Whether `condition` came true within TIMEOUT_S (polled: a bound, not a guess)."""
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def wait_until_shipped(sidecar: RunningSidecar, size: int) -> None:
    shipper = sidecar.sidecar.shipper
    assert shipper is not None
    shipped = await eventually(lambda: shipper.state.size >= size)
    assert shipped, f"shipped {shipper.state.size}, want {size}"


async def test_the_sidecar_ships_its_log_and_the_witnessed_copy_verifies(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    s3_server: S3Server,
    bucket: str,
    tmp_path: Path,
) -> None:
    sidecar = await serve(settings, monkeypatch, 8)
    await wait_until_shipped(sidecar, 8 * RECORDS_PER_REQUEST)  # the whole log
    async with httpx.AsyncClient(base_url=sidecar.url) as http:
        ready = (await http.get("/readyz")).json()
        metrics = (await http.get("/metrics")).text
    await sidecar.stop()  # the final checkpoint is shipped on the way out
    assert ready["shipping"] is True
    assert "policy_engine_audit_ship_backlog_records 0.0" in metrics
    write_key_pair(tmp_path / "witness", Ed25519PrivateKey.generate())
    key = tmp_path / "witness" / "audit-signing-key.pem"
    assert witness(s3_server, bucket, settings, key, tmp_path / "state") == 0
    vkey = Cosigner("witness.example/w1", load_private_key(key)).verifier.verifier_key()
    target = f"s3://{bucket}/{PREFIX}/{REPLICA}"
    assert verify(s3_server, target, settings, "--witness-key", vkey) == 0


async def test_a_truncated_replica_log_is_caught_by_shipping_verify_and_the_witness(
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    s3_server: S3Server,
    bucket: str,
    store: ObjectStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sidecar = await serve(settings, monkeypatch, 12)
    await wait_until_shipped(sidecar, 12 * RECORDS_PER_REQUEST)
    await sidecar.stop()
    write_key_pair(tmp_path / "witness", Ed25519PrivateKey.generate())
    key = tmp_path / "witness" / "audit-signing-key.pem"
    assert witness(s3_server, bucket, settings, key, tmp_path / "state") == 0
    vkey = Cosigner("witness.example/w1", load_private_key(key)).verifier.verifier_key()

    # Someone cuts the replica's log back to 4 records, with its later checkpoints and
    # its shipping state, and lets it run on: a new history from record 4, of 6 records,
    # under no checkpoint the first one shipped but the one at 4.
    truncate_to(settings.audit, 4)
    (settings.audit.dir / "shipped.json").unlink()
    sidecar = await serve(settings, monkeypatch, 1)
    shipper = sidecar.sidecar.shipper
    assert shipper is not None
    await eventually(lambda: shipper.conflict is not None)
    async with httpx.AsyncClient(base_url=sidecar.url) as http:
        ready = await http.get("/readyz")
    await sidecar.stop()
    assert shipper.conflict is not None, "the sidecar shipped a rolled-back log"
    assert (ready.status_code, ready.json()["shipping"]) == (503, False)

    # The local log verifies alone, but not against its shipped, witnessed copy.
    local = str(settings.audit.dir)
    assert verify(s3_server, local, settings) == 0
    target = f"s3://{bucket}/{PREFIX}/{REPLICA}"
    assert verify(s3_server, local, settings, "--shipped", target, "--witness-key", vkey) == 1
    assert "records were truncated" in capsys.readouterr().err

    # Whoever holds the bucket's keys pushes the new history's checkpoint: the witness
    # refuses it as a rollback, and the shipped copy still verifies as it was.
    newest = max((settings.audit.dir / "checkpoints").glob("*.note"))
    store.put_locked(f"{PREFIX}/{REPLICA}/checkpoints/{newest.name}", newest.read_bytes())
    assert witness(s3_server, bucket, settings, key, tmp_path / "state") == 1
    assert "REFUSED replica-a (rollback)" in capsys.readouterr().err
