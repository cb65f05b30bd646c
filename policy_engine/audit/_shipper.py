"""Ships the log to S3-compatible storage, one signed checkpoint at a time.

Each round takes the newest checkpoint beyond what was shipped, uploads the records
it adds (as runs of whole lines per segment), the consistency proof from the last
shipped checkpoint, and then the checkpoint itself: a checkpoint in the bucket means
everything under it is there. The proof is built from the saved frontier and the new
records only (`_frontier`), and the new records must reproduce the checkpoint's root,
so a log that was rolled back or rewritten under the shipper is refused, not shipped.
What was shipped is saved in `<audit dir>/shipped.json` after each round; a crash
between an upload and that save repeats uploads, which find their own bytes in place.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from policy_engine.audit._checkpoint import parse_checkpoint
from policy_engine.audit._cosign import split_note
from policy_engine.audit._errors import (
    AuditError,
    CheckpointError,
    NoteError,
    ShipConflict,
    StoreUnavailable,
)
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._merkle import CompactRange, consistency_proof_from
from policy_engine.audit._s3_layout import (
    checkpoint_key,
    chunk_key,
    parse_checkpoint_key,
    proof_key,
)
from policy_engine.audit._store import data_size, list_checkpoints, list_segments, write_durably
from policy_engine.telemetry import get_logger

if TYPE_CHECKING:
    from policy_engine.audit._s3 import ObjectStore

_log = get_logger("policy_engine.audit.ship")
STATE_NAME = "shipped.json"


@dataclass(frozen=True)
class ShipState:
    """Where the shipped copy ends: its size, the byte after its last record, its frontier."""

    size: int = 0
    segment: int = 0
    offset: int = 0
    frontier: CompactRange | None = None

    def to_json(self) -> dict[str, Any]:
        frontier = self.frontier or CompactRange()
        return {
            "version": 1,
            "size": self.size,
            "segment": self.segment,
            "offset": self.offset,
            "frontier": [base64.b64encode(node).decode() for node in frontier.hashes],
        }

    @classmethod
    def load(cls, path: Path) -> ShipState:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            size = int(data["size"])
            return cls(
                size,
                int(data["segment"]),
                int(data["offset"]),
                CompactRange.from_hashes(
                    size, [base64.b64decode(node, validate=True) for node in data["frontier"]]
                ),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ShipConflict(f"{path} is unreadable ({error}); refusing to guess") from None


class ShipMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.shipped = Gauge(
            "policy_engine_audit_shipped_records",
            "Records in the shipped copy (up to its newest checkpoint)",
            registry=registry,
        )
        self.backlog = Gauge(
            "policy_engine_audit_ship_backlog_records",
            "Records under local checkpoints not yet shipped",
            registry=registry,
        )
        self.lag = Gauge(
            "policy_engine_audit_ship_lag_seconds",
            "Age of the oldest local checkpoint not yet shipped (0 when none is waiting)",
            registry=registry,
        )
        self.uploads = Counter(
            "policy_engine_audit_ship_uploads",
            "Objects written to the bucket, by kind (segment, proof, checkpoint)",
            ("kind",),
            registry=registry,
        )
        self.failures = Counter(
            "policy_engine_audit_ship_failures",
            "Shipping rounds that failed: unavailable (the store) or conflict (the log "
            "disagrees with its shipped copy)",
            ("reason",),
            registry=registry,
        )


@dataclass(frozen=True)
class _Run:
    segment: str
    number: int
    start: int
    data: bytes
    end: int


class Shipper:
    def __init__(
        self,
        directory: Path,
        store: ObjectStore,
        root: str,
        metrics: ShipMetrics,
        max_backlog_records: int,
        max_lag_s: float,
    ) -> None:
        self._directory = directory
        self._store = store
        self.root = root
        self._metrics = metrics
        self._max_backlog = max_backlog_records
        self._max_lag = max_lag_s
        self._state_path = directory / STATE_NAME
        self.conflict: str | None = None
        # Without a saved state, the bucket may still hold what an earlier run shipped
        # (the state was lost with a crash or a volume): read it back before shipping.
        self._reconciled = self._state_path.exists()
        try:
            self.state = ShipState.load(self._state_path)
        except ShipConflict as error:
            self.state = ShipState()
            self._conflicted(error)
        self._backlog = 0
        self._lag = 0.0
        metrics.shipped.set(self.state.size)

    @property
    def ready(self) -> bool:
        """False on a conflict, or while the backlog is past its bounds."""
        return (
            self.conflict is None
            and self._backlog <= self._max_backlog
            and self._lag <= self._max_lag
        )

    # -- one round -------------------------------------------------------------------

    def ship_once(self) -> int:
        """Ship the newest checkpoint not yet shipped; the records shipped (0 if none)."""
        waiting = [(s, p) for s, p in list_checkpoints(self._directory) if s > self.state.size]
        self._measure(waiting, self.state.size)
        if not self._reconciled:
            self._reconcile()
            waiting = [(s, p) for s, p in waiting if s > self.state.size]
            self._measure(waiting, self.state.size)
        if not waiting or self.conflict is not None:
            return 0
        size, path = waiting[-1]
        note = path.read_text()
        try:
            checkpoint = parse_checkpoint(split_note(note)[0])
        except (NoteError, CheckpointError) as error:
            raise ShipConflict(f"{path.name}: {error}") from None
        runs, leaves = self._records(size - self.state.size)
        frontier = (self.state.frontier or CompactRange()).copy()
        for leaf in leaves:
            frontier.append(leaf)
        if frontier.size != size or frontier.root() != checkpoint.root_hash:
            raise ShipConflict(
                f"the records after the shipped {self.state.size} do not reproduce the root "
                f"of {path.name}: the log was rolled back or rewritten since it was shipped"
            )
        for run in runs:
            if self._store.put_locked(chunk_key(self.root, run.segment, run.start), run.data):
                self._metrics.uploads.labels("segment").inc()
        if self.state.size > 0:
            assert self.state.frontier is not None
            proof = {
                "old_size": self.state.size,
                "old_root": base64.b64encode(self.state.frontier.root()).decode(),
                "proof": [
                    base64.b64encode(node).decode()
                    for node in consistency_proof_from(self.state.frontier, leaves)
                ],
            }
            body = json.dumps(proof, sort_keys=True).encode()
            if self._store.put_locked(proof_key(self.root, size), body):
                self._metrics.uploads.labels("proof").inc()
        if self._store.put_locked(checkpoint_key(self.root, size), note.encode()):
            self._metrics.uploads.labels("checkpoint").inc()
        last = runs[-1] if runs else None
        state = ShipState(
            size,
            last.number if last else self.state.segment,
            last.end if last else self.state.offset,
            frontier,
        )
        write_durably(self._state_path, json.dumps(state.to_json()).encode())
        # The gauges, then the state: a round runs in a thread, and whoever sees the new
        # state on the loop (readiness, a test) sees this round's backlog with it.
        self._metrics.shipped.set(size)
        self._measure([(s, p) for s, p in waiting if s > size], size)
        self.state = state
        return len(leaves)

    def _reconcile(self) -> None:
        """Take up from the newest checkpoint in the bucket, if the local log holds it."""
        keys = self._store.keys(f"{self.root}/checkpoints/")
        sizes = [s for k in keys if (s := parse_checkpoint_key(self.root, k)) is not None]
        if sizes:
            size = max(sizes)
            note = self._store.get(checkpoint_key(self.root, size))
            if note is None:
                raise StoreUnavailable(f"{checkpoint_key(self.root, size)} listed but missing")
            try:
                shipped = parse_checkpoint(split_note(note.decode())[0])
            except (NoteError, CheckpointError, UnicodeDecodeError) as error:
                raise ShipConflict(
                    f"the shipped checkpoint {size} is unreadable: {error}"
                ) from None
            self.state = ShipState()
            runs, leaves = self._records(size)
            frontier = CompactRange()
            for leaf in leaves:
                frontier.append(leaf)
            if frontier.root() != shipped.root_hash:
                raise ShipConflict(
                    f"the local log's first {size} records do not reproduce the shipped "
                    "checkpoint: this log is not the one shipped under this replica's name"
                )
            last = runs[-1]
            self.state = ShipState(size, last.number, last.end, frontier)
            write_durably(self._state_path, json.dumps(self.state.to_json()).encode())
            _log.info("audit_ship_resumed", size=size, root=self.root)
        self._reconciled = True

    def _records(self, count: int) -> tuple[list[_Run], list[bytes]]:
        """The next `count` records after the shipped ones, as runs per segment."""
        runs: list[_Run] = []
        leaves: list[bytes] = []
        for number, path in list_segments(self._directory):
            if number < self.state.segment or len(leaves) == count:
                continue
            start = self.state.offset if number == self.state.segment else 0
            with path.open("rb") as segment:
                segment.seek(start)
                data = segment.read()
            data = data[: data_size(data)]
            position = 0
            while len(leaves) < count:
                end = data.find(b"\n", position)
                if end < 0:
                    break  # the rest of this segment is not under a checkpoint yet
                leaves.append(hash_leaf(data[position:end]))
                position = end + 1
            if position:
                runs.append(_Run(path.name, number, start, data[:position], start + position))
        if len(leaves) != count:
            raise ShipConflict(
                f"a checkpoint covers {count} more records than the log holds after the "
                f"{self.state.size} shipped: the log was truncated"
            )
        return runs, leaves

    def _measure(self, waiting: list[tuple[int, Path]], shipped: int) -> None:
        self._backlog = waiting[-1][0] - shipped if waiting else 0
        self._lag = 0.0
        if waiting:
            with contextlib.suppress(OSError):
                self._lag = max(0.0, time.time() - waiting[0][1].stat().st_mtime)
        self._metrics.backlog.set(self._backlog)
        self._metrics.lag.set(self._lag)

    # -- in the sidecar ----------------------------------------------------------------

    async def round(self) -> None:
        """One round off the event loop; failures are counted and logged, never raised."""
        try:
            shipped = await asyncio.to_thread(self.ship_once)
        except ShipConflict as error:
            self._conflicted(error)
        except (StoreUnavailable, OSError, AuditError) as error:
            self._metrics.failures.labels("unavailable").inc()
            _log.warning("audit_ship_failed", error=str(error))
        else:
            if shipped:
                _log.info("audit_shipped", records=shipped, size=self.state.size, root=self.root)

    def _conflicted(self, error: ShipConflict) -> None:
        self.conflict = str(error)
        self._metrics.failures.labels("conflict").inc()
        _log.error(
            "audit_ship_conflict",
            reason=str(error),
            hint="the shipped copy and this log disagree; nothing more is shipped and "
            "/readyz is red. Investigate, then give this replica a new name "
            "(fleet.replica) to ship a new log.",
        )

    async def run(self, interval_s: float) -> None:
        while self.conflict is None:
            await self.round()
            await asyncio.sleep(interval_s)


def replica_root(prefix: str, replica: str) -> str:
    return f"{prefix.strip('/')}/{replica}"
