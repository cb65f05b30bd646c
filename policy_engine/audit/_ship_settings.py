"""Settings for shipping the audit log to S3-compatible storage with object lock."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ShippingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: str = Field(
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        description="A bucket created with object lock enabled",
    )
    prefix: str = Field(
        "policy-engine",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$",
        description="Each replica ships under <prefix>/<replica>/",
    )
    endpoint_url: str | None = Field(None, description="For S3-compatible stores; unset = AWS")
    region: str = "us-east-1"
    access_key_id_env: str | None = Field(
        None, description="Unset: boto3's own chain (AWS_* variables, web identity, instance role)"
    )
    secret_access_key_env: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    retention_mode: Literal["COMPLIANCE", "GOVERNANCE"] = Field(
        "COMPLIANCE", description="COMPLIANCE: nobody, root included, can delete before expiry"
    )
    retention_days: int = Field(365, ge=1, le=36500)
    interval_s: float = Field(5, gt=0, description="How often new checkpoints are looked for")
    timeout_s: float = Field(10, gt=0, description="Per S3 call, connecting and reading")
    max_backlog_records: int = Field(
        100_000,
        ge=0,
        description="/readyz turns red past this many checkpointed, unshipped records",
    )
    max_lag_s: float = Field(
        900, gt=0, description="/readyz turns red when the oldest unshipped checkpoint is older"
    )

    @model_validator(mode="after")
    def _both_keys_or_none(self) -> ShippingSettings:
        if (self.access_key_id_env is None) != (self.secret_access_key_env is None):
            raise ValueError("set both access_key_id_env and secret_access_key_env, or neither")
        return self
