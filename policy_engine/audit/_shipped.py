"""Reading a shipped copy back: the log directory it stands for, its checkpoints, and the
checkpoints witnesses cosigned; for `audit verify s3://...` and `--shipped`.

An object with more than one version was written over (the locked original is still
there): that alone fails verification, whatever the newest version holds.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from policy_engine.audit._errors import VerificationFailure
from policy_engine.audit._s3_layout import parse_checkpoint_key, parse_chunk_key
from policy_engine.audit._store import CHECKPOINT_DIR

if TYPE_CHECKING:
    from policy_engine.audit._s3 import ObjectStore

_COSIGNED = "cosignatures/"


@dataclass
class ShippedCopy:
    checkpoints: list[tuple[str, str]] = field(default_factory=list)  # (label, note)
    cosigned: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # key ID hex ->
    segments: int = 0


def fetch_shipped(store: ObjectStore, root: str, into: Path | None) -> ShippedCopy:
    """Read the copy under `root`; with `into`, also rebuild its log directory there."""
    where = f"s3://{store.bucket}/{root}"
    for key, count in sorted(store.versions(f"{root}/").items()):
        if count > 1:
            raise VerificationFailure(
                f"s3://{store.bucket}/{key}",
                f"written over: {count} versions (the locked original is kept; compare them)",
            )
    keys = store.keys(f"{root}/")
    if not keys:
        raise VerificationFailure(where, "nothing shipped here")
    copy = ShippedCopy()
    runs: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for key in keys:
        if (chunk := parse_chunk_key(root, key)) is not None:
            runs[chunk[0]].append((chunk[1], key))
        elif parse_checkpoint_key(root, key) is not None:
            copy.checkpoints.append((f"s3://{store.bucket}/{key}", _text(store, key)))
        elif key.startswith(f"{root}/{_COSIGNED}"):
            witness = key[len(f"{root}/{_COSIGNED}") :].split("/", 1)[0]
            copy.cosigned.setdefault(witness, []).append(
                (f"s3://{store.bucket}/{key}", _text(store, key))
            )
    copy.segments = len(runs)
    if into is not None:
        _rebuild(store, root, into, runs, copy)
    return copy


def _text(store: ObjectStore, key: str) -> str:
    data = store.get(key)
    if data is None:
        raise VerificationFailure(f"s3://{store.bucket}/{key}", "listed but missing")
    return data.decode("utf-8", errors="replace")


def _rebuild(
    store: ObjectStore,
    root: str,
    into: Path,
    runs: dict[str, list[tuple[int, str]]],
    copy: ShippedCopy,
) -> None:
    (into / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
    for segment, pieces in sorted(runs.items()):
        with (into / segment).open("wb") as out:
            expected = 0
            for start, key in sorted(pieces):
                if start != expected:
                    raise VerificationFailure(
                        f"s3://{store.bucket}/{root}/segments/{segment}",
                        f"bytes {expected}..{start} are missing (a shipped run was removed)",
                    )
                data = store.get(key)
                if data is None:
                    raise VerificationFailure(f"s3://{store.bucket}/{key}", "listed but missing")
                out.write(data)
                expected = start + len(data)
    for label, note in copy.checkpoints:
        name = label.rsplit("/", 1)[1]
        (into / CHECKPOINT_DIR / name).write_text(note)
