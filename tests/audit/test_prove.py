"""prove_request builds inclusion proofs that check_inclusion_bundle accepts."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from policy_engine.audit import (
    AuditError,
    AuditLog,
    AuditSettings,
    InclusionBundle,
    NoteError,
    check_inclusion_bundle,
    load_public_key,
    prove_request,
)

ODD_ID = 'req "quoted" \\ ünïcode'


def fill(settings: AuditSettings, request_ids: list[str]) -> None:
    async def run() -> None:
        log = await AuditLog.open(settings)
        for request_id in request_ids:
            await log.append({"request_id": request_id})
        await log.close()

    asyncio.run(run())


@pytest.fixture
def public(settings: AuditSettings) -> Ed25519PublicKey:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


def test_a_request_id_needing_json_escapes_is_found(
    settings: AuditSettings, public: Ed25519PublicKey
) -> None:
    fill(settings, ["a", ODD_ID, "c"])
    record = check_inclusion_bundle(prove_request(settings.dir, ODD_ID), [public])
    assert (record.seq, record.event["request_id"]) == (1, ODD_ID)


def test_every_record_of_a_log_has_a_checking_proof(
    settings: AuditSettings, public: Ed25519PublicKey
) -> None:
    ids = [f"r{i}" for i in range(13)]
    fill(settings, ids)
    for request_id in ids:
        bundle = InclusionBundle.from_json(prove_request(settings.dir, request_id).to_json())
        assert check_inclusion_bundle(bundle, [public]).event["request_id"] == request_id


def test_a_record_after_the_latest_checkpoint_cannot_be_proved_yet(
    settings: AuditSettings,
) -> None:
    fill(settings, ["early"])
    (settings.dir / "checkpoints" / f"{1:020d}.note").unlink()
    with pytest.raises(AuditError, match="not under a checkpoint yet"):
        prove_request(settings.dir, "early")


def test_a_proof_checked_with_an_untrusted_key_is_rejected(settings: AuditSettings) -> None:
    fill(settings, ["a"])
    stranger = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(NoteError, match="no signature"):
        check_inclusion_bundle(prove_request(settings.dir, "a"), [stranger])
