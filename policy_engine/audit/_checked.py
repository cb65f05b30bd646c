"""The per-record half of verification, which needs no other record: parse the line,
check its signature, hash it. It runs in the verifier's process, or, for `jobs > 1`, in
worker processes fed chunks of lines in order (the signature check is most of the
cost, and Python runs one at a time per process); what depends on the records before
(seq, hash chain, tree, intents) stays with the caller, in order.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, NamedTuple, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from policy_engine.audit._errors import RecordError
from policy_engine.audit._keys import record_key_id
from policy_engine.audit._record import parse_record

_CHUNK = 1000  # lines per task: large enough that a task's IPC is a small part of it

Item = TypeVar("Item")


class Checked(NamedTuple):
    """What the in-order checks need of one parsed record."""

    seq: int
    prev: str
    kind: str
    kid: str
    at: str
    leaf: bytes
    request_id: object
    intent_seq: object
    recovery: dict[str, Any] | None  # the event of a recovery record
    signature_error: str | None  # reported after the chain checks, as for one process


class Unreadable(NamedTuple):
    reason: str


def check_line(data: bytes, keys: Mapping[str, Ed25519PublicKey]) -> Checked | Unreadable:
    try:
        record = parse_record(data)
    except RecordError as exc:
        return Unreadable(str(exc))
    try:
        record.verify(keys)
        signature_error = None
    except RecordError as exc:
        signature_error = str(exc)
    event = record.event
    return Checked(
        record.seq,
        record.prev,
        record.kind,
        record.kid,
        record.at,
        record.leaf_hash,
        event.get("request_id"),
        event.get("intent_seq"),
        event if record.kind == "recovery" else None,
        signature_error,
    )


def _check_chunk(raw_keys: list[bytes], lines: list[bytes]) -> list[Checked | Unreadable]:
    """A worker's task; keys travel as raw bytes (key objects do not pickle)."""
    keys = {}
    for raw in raw_keys:
        key = Ed25519PublicKey.from_public_bytes(raw)
        keys[record_key_id(key)] = key
    return [check_line(data, keys) for data in lines]


def check_all(
    items: Iterable[tuple[Item, bytes | None]],
    keys: Mapping[str, Ed25519PublicKey],
    jobs: int,
) -> Generator[tuple[Item, Checked | Unreadable | None], None, None]:
    """Each item with its line checked (None for a None line), in order; `jobs`
    processes share the checking when more than one."""
    if jobs <= 1:
        for item, data in items:
            yield item, None if data is None else check_line(data, keys)
        return
    raw_keys = [key.public_bytes(Encoding.Raw, PublicFormat.Raw) for key in keys.values()]
    # spawn, not fork: the caller may run threads (an event loop, a test runner).
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(jobs, mp_context=context)
    pending: deque[tuple[list[tuple[Item, bytes | None]], Future[list[Any]]]] = deque()
    try:
        for chunk in _chunks(items):
            lines = [data for _, data in chunk if data is not None]
            pending.append((chunk, pool.submit(_check_chunk, raw_keys, lines)))
            # A bounded lead keeps memory flat however long the log is.
            while len(pending) > 2 * jobs:
                yield from _merge(*pending.popleft())
        while pending:
            yield from _merge(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _chunks(
    items: Iterable[tuple[Item, bytes | None]],
) -> Iterator[list[tuple[Item, bytes | None]]]:
    chunk: list[tuple[Item, bytes | None]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _merge(
    chunk: list[tuple[Item, bytes | None]], future: Future[list[Any]]
) -> Iterator[tuple[Item, Checked | Unreadable | None]]:
    results = iter(future.result())
    for item, data in chunk:
        yield item, None if data is None else next(results)
