"""Where each object of the shipped copy goes in S3-compatible storage.

Under `<prefix>/<replica>/` a replica's log is laid out as
- `segments/segment-NNNNNNNN.jsonl/<start offset, 16 digits>`: a run of whole records
  of that segment starting at that byte (the segment is the runs, concatenated);
- `checkpoints/<size, 20 digits>.note`: the signed checkpoint, as in the log directory;
- `proofs/<size>.json`: the consistency proof from the checkpoint shipped before it;
- `cosignatures/<witness key ID, hex>/<size>.note`: the checkpoint with a witness's
  cosignature added.
Apart from the client (`_s3`), so that naming the objects does not load boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CHUNK = re.compile(r"segments/(segment-\d{8}\.jsonl)/(\d{16})")
_CHECKPOINT = re.compile(r"checkpoints/(\d{20})\.note")


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
