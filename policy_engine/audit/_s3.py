"""The one client of the shipped copy's S3-compatible storage (`_s3_layout` says where
each object goes). Every object is written once, with `If-None-Match: *` and an
object-lock retention, so it can be neither overwritten nor deleted before the retention
ends. botocore errors are translated here, and nowhere else.

boto3 takes tens of MB per process and most deployments do not ship: this module is
imported where a store is built, never with the package.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from policy_engine.audit._errors import ShipConflict, StoreUnavailable
from policy_engine.audit._ship_settings import ShippingSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_CONFLICT_CODES = {"PreconditionFailed", "ConditionalRequestConflict"}


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
