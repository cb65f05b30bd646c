"""The shipped copy in S3-compatible storage: where each object goes, and the one client.

Under `<prefix>/<replica>/` a replica's log is laid out as
- `segments/segment-NNNNNNNN.jsonl/<start offset, 16 digits>`: a run of whole records
  of that segment starting at that byte (the segment is the runs, concatenated);
- `checkpoints/<size, 20 digits>.note`: the signed checkpoint, as in the log directory;
- `proofs/<size>.json`: the consistency proof from the checkpoint shipped before it;
- `cosignatures/<witness key ID, hex>/<size>.note`: the checkpoint with a witness's
  cosignature added.
Every object is written once, with `If-None-Match: *` and an object-lock retention, so
it can be neither overwritten nor deleted before the retention ends. botocore errors
are translated here, and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from policy_engine.audit._errors import ShipConflict, StoreUnavailable
from policy_engine.audit._ship_settings import ShippingSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CHUNK = re.compile(r"segments/(segment-\d{8}\.jsonl)/(\d{16})")
_CHECKPOINT = re.compile(r"checkpoints/(\d{20})\.note")
_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}


def chunk_key(root: str, segment: str, start: int) -> str:
    return f"{root}/segments/{segment}/{start:016d}"


def checkpoint_key(root: str, size: int) -> str:
    return f"{root}/checkpoints/{size:020d}.note"


def proof_key(root: str, size: int) -> str:
    return f"{root}/proofs/{size:020d}.json"


def cosignature_key(root: str, witness: bytes, size: int) -> str:
    return f"{root}/cosignatures/{witness.hex()}/{size:020d}.note"


def parse_chunk_key(root: str, key: str) -> tuple[str, int] | None:
    match = _CHUNK.fullmatch(key.removeprefix(f"{root}/"))
    return (match.group(1), int(match.group(2))) if match else None


def parse_checkpoint_key(root: str, key: str) -> int | None:
    match = _CHECKPOINT.fullmatch(key.removeprefix(f"{root}/"))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class S3Location:
    """`s3://bucket/prefix`, as the CLI takes it."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, text: str) -> S3Location:
        if not text.startswith("s3://"):
            raise ValueError(f"not an s3:// URL: {text!r}")
        bucket, _, prefix = text[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {text!r}")
        return cls(bucket, prefix.strip("/"))

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def s3_client(
    endpoint_url: str | None,
    region: str,
    timeout_s: float,
    addressing_style: Literal["auto", "path", "virtual"] = "auto",
    credentials: tuple[str, str] | None = None,
) -> S3Client:
    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"max_attempts": 2, "mode": "standard"},
        s3={"addressing_style": addressing_style},
    )
    keys: dict[str, Any] = {}
    if credentials is not None:
        keys = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]}
    client: S3Client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, config=config, **keys
    )
    return client


def client_from_settings(
    settings: ShippingSettings, credentials: tuple[str, str] | None
) -> S3Client:
    return s3_client(
        settings.endpoint_url,
        settings.region,
        settings.timeout_s,
        settings.addressing_style,
        credentials,
    )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class ObjectStore:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        retention_mode: str = "COMPLIANCE",
        retention_days: int = 365,
    ) -> None:
        self._client = client
        self.bucket = bucket
        self._mode = retention_mode
        self._days = retention_days

    def put_locked(self, key: str, data: bytes) -> bool:
        """Write `key` once, under retention; False if it already holds exactly `data`.

        Raises ShipConflict when it holds anything else.
        """
        until = datetime.now(UTC) + timedelta(days=self._days)
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=data,
                IfNoneMatch="*",
                ObjectLockMode=self._mode,  # type: ignore[arg-type]
                ObjectLockRetainUntilDate=until,
                ChecksumAlgorithm="SHA256",
            )
        except ClientError as error:
            if _code(error) not in _CONFLICT_CODES:
                raise StoreUnavailable(f"cannot write {key}: {_code(error)}") from None
        except BotoCoreError as error:
            raise StoreUnavailable(f"cannot write {key}: {type(error).__name__}") from None
        else:
            return True
        if self.get(key) == data:
            return False  # written before a crash or a retry: the same bytes
        raise ShipConflict(f"{key} already holds different bytes")

    def get(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            body: bytes = response["Body"].read()
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404"):
                return None
            raise StoreUnavailable(f"cannot read {key}: {_code(error)}") from None
        except BotoCoreError as error:
            raise StoreUnavailable(f"cannot read {key}: {type(error).__name__}") from None
        return body

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                found.extend(item["Key"] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"cannot list {prefix}: {type(error).__name__}") from None
        return sorted(found)

    def children(self, prefix: str) -> list[str]:
        """The names one level below `prefix/` (the replicas under a fleet's prefix)."""
        names: list[str] = []
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{prefix}/", Delimiter="/"
            )
            for page in pages:
                for common in page.get("CommonPrefixes", []):
                    names.append(common["Prefix"][len(prefix) + 1 :].rstrip("/"))
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(f"cannot list {prefix}: {type(error).__name__}") from None
        return sorted(names)

    def versions(self, prefix: str) -> dict[str, int]:
        """How many versions (delete markers included) each key has: more than one means
        someone wrote over an object (the locked original is still there)."""
        counts: dict[str, int] = {}
        try:
            pages = self._client.get_paginator("list_object_versions").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    counts[item["Key"]] = counts.get(item["Key"], 0) + 1
        except (ClientError, BotoCoreError) as error:
            raise StoreUnavailable(
                f"cannot list versions of {prefix}: {type(error).__name__}"
            ) from None
        return counts
