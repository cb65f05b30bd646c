"""Settings for the audit log, built once at startup and passed to `AuditLog.open`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy_engine.audit._note import key_name_problem
from policy_engine.audit._trust import DEFAULT_ORIGIN


class AuditSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dir: Path = Field(description="Directory holding the segment files and checkpoints.")
    signing_key_file: Path = Field(
        description="Ed25519 private key, PKCS8 PEM; refused if group or others can read it."
    )
    fsync: Literal["batch", "every_record"] = Field(
        default="batch",
        description="'batch' fsyncs a group of records at once; 'every_record' one by one.",
    )
    batch_interval_ms: float = Field(
        default=0.0,
        ge=0,
        description=(
            "Extra group-commit window: how long the writer waits for more records before "
            "an fsync while records arrive concurrently. 0 (the default) commits what is "
            "queued at once; records that arrive during one fsync form the next batch."
        ),
    )
    segment_max_bytes: int = Field(
        default=64 * 1024 * 1024,
        gt=0,
        description="A segment file rotates once the next batch would take it past this size.",
    )
    prezero_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description=(
            "How far ahead of the records the writer keeps the segment written with zeros "
            "(extended by this much, fdatasync'd, when less than half is left): overwriting "
            "allocated blocks makes each record's fdatasync cheaper than an append (measured "
            "on ext4). 0 turns it off, e.g. on copy-on-write filesystems, where it cannot pay."
        ),
    )
    checkpoint_every_records: int = Field(
        default=1000, gt=0, description="Write a signed checkpoint after this many records."
    )
    checkpoint_every_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Write a signed checkpoint this long after the last one if records came.",
    )
    on_failure: Literal["fail_closed", "fail_open"] = Field(
        default="fail_closed",
        description=(
            "On a write or fsync failure, 'fail_closed' raises AuditUnavailable from append; "
            "'fail_open' returns UNRECORDED and the request goes on without a record."
        ),
    )
    origin: str = Field(
        default=DEFAULT_ORIGIN,
        description=(
            "Checkpoint origin line and the checkpoint signing key's name (C2SP): "
            "non-empty, no '+', no space and no control character; auditors pin it."
        ),
    )

    @field_validator("origin")
    @classmethod
    def _origin_is_a_key_name(cls, origin: str) -> str:
        problem = key_name_problem(origin)
        if problem is not None:
            raise ValueError(f"not a signed-note key name: {problem}")
        return origin
