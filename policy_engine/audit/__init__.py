"""The signed, tamper-evident audit log: one RFC 8785 record per request, Ed25519-signed,
hash-chained, and checkpointed as an RFC 6962 Merkle tree in C2SP signed notes.
"""

import importlib
from typing import TYPE_CHECKING

from policy_engine.audit._auditor import (
    ConsistencyProof,
    InclusionBundle,
    check_consistency,
    check_inclusion_bundle,
    iter_records,
    open_checkpoint,
    prove_consistency,
    prove_request,
)
from policy_engine.audit._checkpoint import Checkpoint, parse_checkpoint
from policy_engine.audit._cosign import (
    CosignatureVerifier,
    Cosigner,
    cosigner_key_hash,
    parse_cosignature_key,
)
from policy_engine.audit._errors import (
    AuditError,
    AuditUnavailable,
    CheckpointError,
    KeyFileError,
    LogCorrupted,
    LogLocked,
    NoteError,
    ProofError,
    RecordError,
    RootMismatchError,
    ShipConflict,
    StoreUnavailable,
    VerificationFailure,
)
from policy_engine.audit._hashing import empty_root, hash_children, hash_leaf
from policy_engine.audit._keys import (
    PRIVATE_KEY_NAME,
    PUBLIC_KEY_NAME,
    load_private_key,
    load_public_key,
    record_key_id,
    write_key_pair,
)
from policy_engine.audit._log import UNRECORDED, AuditLog, RecordKind
from policy_engine.audit._merkle import (
    CompactRange,
    consistency_proof,
    consistency_proof_from,
    inclusion_proof,
    tree_root,
)
from policy_engine.audit._note import (
    MAX_SIGNATURES,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    note_key_hash,
    open_note,
    parse_signer_key,
    parse_verifier_key,
    sign_note,
)
from policy_engine.audit._proof import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from policy_engine.audit._quarantine import Quarantined
from policy_engine.audit._record import Record, RecordSigner, parse_record
from policy_engine.audit._s3_layout import S3Location
from policy_engine.audit._settings import AuditSettings
from policy_engine.audit._ship_settings import ShippingSettings
from policy_engine.audit._shipped import ShippedCopy, fetch_shipped
from policy_engine.audit._shipper import ShipMetrics, Shipper, ShipState, replica_root
from policy_engine.audit._trust import DEFAULT_ORIGIN, LogTrust
from policy_engine.audit._verify import Interrupted, VerifyReport, verify_log
from policy_engine.audit._witness import LogView, Witness, WitnessMetrics

if TYPE_CHECKING:
    from policy_engine.audit._s3 import ObjectStore, client_from_settings, s3_client

# Imported on first use, not with the package: boto3 takes tens of MB per process (the
# audit writer's and `audit verify`'s workers import this package too), and most
# deployments do not ship.
_ON_USE = {
    "ObjectStore": "policy_engine.audit._s3",
    "client_from_settings": "policy_engine.audit._s3",
    "s3_client": "policy_engine.audit._s3",
}


def __getattr__(name: str) -> object:
    module = _ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
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
    "CosignatureVerifier",
    "Cosigner",
    "InclusionBundle",
    "Interrupted",
    "KeyFileError",
    "LogCorrupted",
    "LogLocked",
    "LogTrust",
    "LogView",
    "NoteError",
    "NoteSigner",
    "NoteVerifier",
    "ObjectStore",
    "OpenedNote",
    "ProofError",
    "Quarantined",
    "Record",
    "RecordError",
    "RecordKind",
    "RecordSigner",
    "RootMismatchError",
    "S3Location",
    "ShipConflict",
    "ShipMetrics",
    "ShipState",
    "ShippedCopy",
    "Shipper",
    "ShippingSettings",
    "StoreUnavailable",
    "VerificationFailure",
    "VerifyReport",
    "Witness",
    "WitnessMetrics",
    "check_consistency",
    "check_inclusion_bundle",
    "client_from_settings",
    "consistency_proof",
    "consistency_proof_from",
    "cosigner_key_hash",
    "empty_root",
    "fetch_shipped",
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
    "parse_cosignature_key",
    "parse_record",
    "parse_signer_key",
    "parse_verifier_key",
    "prove_consistency",
    "prove_request",
    "record_key_id",
    "replica_root",
    "root_from_inclusion_proof",
    "s3_client",
    "sign_note",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "write_key_pair",
]
