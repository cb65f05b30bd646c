"""The audit package's public surface, pinned: changing it is a deliberate act."""

from __future__ import annotations

import policy_engine.audit as audit


def test_public_names_are_exactly_these() -> None:
    assert set(audit.__all__) == {
        "DEFAULT_ORIGIN",
        "MAX_SIGNATURES",
        "PRIVATE_KEY_NAME",
        "PUBLIC_KEY_NAME",
        "UNRECORDED",
        "AuditError",
        "AuditLog",
        "AuditSettings",
        "AuditUnavailable",
        "Checkpoint",
        "CheckpointError",
        "CompactRange",
        "ConsistencyProof",
        "InclusionBundle",
        "Interrupted",
        "KeyFileError",
        "LogCorrupted",
        "LogLocked",
        "LogTrust",
        "NoteError",
        "NoteSigner",
        "NoteVerifier",
        "OpenedNote",
        "ProofError",
        "Quarantined",
        "Record",
        "RecordError",
        "RecordKind",
        "RecordSigner",
        "RootMismatchError",
        "VerificationFailure",
        "VerifyReport",
        "check_consistency",
        "check_inclusion_bundle",
        "consistency_proof",
        "consistency_proof_from",
        "empty_root",
        "hash_children",
        "hash_leaf",
        "inclusion_proof",
        "iter_records",
        "load_private_key",
        "load_public_key",
        "note_key_hash",
        "open_checkpoint",
        "open_note",
        "parse_checkpoint",
        "parse_record",
        "parse_signer_key",
        "parse_verifier_key",
        "prove_consistency",
        "prove_request",
        "record_key_id",
        "root_from_inclusion_proof",
        "sign_note",
        "tree_root",
        "verify_consistency",
        "verify_inclusion",
        "verify_log",
        "write_key_pair",
        # Shipping to S3-compatible storage, and the witness (issue 24).
        "CosignatureVerifier",
        "Cosigner",
        "LogView",
        "ObjectStore",
        "S3Location",
        "ShipConflict",
        "ShipMetrics",
        "ShipState",
        "ShippedCopy",
        "Shipper",
        "ShippingSettings",
        "StoreUnavailable",
        "Witness",
        "WitnessMetrics",
        "client_from_settings",
        "cosigner_key_hash",
        "fetch_shipped",
        "parse_cosignature_key",
        "replica_root",
        "s3_client",
    }


def test_every_error_derives_from_audit_error() -> None:
    errors = [
        getattr(audit, name)
        for name in audit.__all__
        if name.endswith(("Error", "Unavailable", "Corrupted", "Locked", "Failure", "Conflict"))
    ]
    assert all(issubclass(error, audit.AuditError) for error in errors)


def test_the_pipeline_contract_is_present() -> None:
    assert {"dir", "signing_key_file", "fsync", "on_failure", "origin"} <= set(
        audit.AuditSettings.model_fields
    )
    assert isinstance(audit.AuditLog.healthy, property)
