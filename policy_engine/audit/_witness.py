"""A witness: follows each replica's shipped checkpoints and cosigns the consistent ones.

For every replica under the fleet's prefix, the witness keeps the last checkpoint it
accepted (size, root, origin). A newer checkpoint is accepted only with a valid log
signature under the same origin and an RFC 6962 consistency proof from exactly that
accepted checkpoint; it is then cosigned (C2SP tlog-cosignature, `_cosign`) and the
cosigned note is stored beside it. Anything else is refused, counted and logged:
a proof from below the accepted size, or a new checkpoint at or below it, is a
rollback; a proof from the same size with another root, or one that does not verify,
is a fork. The state is saved before the cosignature leaves, so a crash can lose a
cosignature but never make the witness sign two views of one log.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from prometheus_client import CollectorRegistry, Counter, Gauge

from policy_engine.audit._checkpoint import Checkpoint
from policy_engine.audit._cosign import Cosigner
from policy_engine.audit._errors import CheckpointError, NoteError, ProofError, StoreUnavailable
from policy_engine.audit._proof import verify_consistency
from policy_engine.audit._s3_layout import (
    checkpoint_key,
    cosignature_key,
    parse_checkpoint_key,
    proof_key,
)
from policy_engine.audit._store import write_durably
from policy_engine.audit._trust import LogTrust
from policy_engine.telemetry import get_logger

if TYPE_CHECKING:
    from policy_engine.audit._s3 import ObjectStore

_log = get_logger("policy_engine.audit.witness")
_REPLICA = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


@dataclass(frozen=True)
class LogView:
    """What the witness has accepted of one log."""

    origin: str | None = None
    size: int = 0
    root: bytes = b""
    below: int = 0  # checkpoints in the bucket at or below `size` when it was accepted
    pending: str | None = None  # a cosigned note saved but not yet uploaded

    def to_json(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "below": self.below,
            "pending": self.pending,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogView:
        return cls(
            data["origin"],
            int(data["size"]),
            base64.b64decode(data["root"]),
            int(data["below"]),
            data.get("pending"),
        )


class WitnessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter(
            "policy_engine_witness_accepted",
            "Checkpoints accepted and cosigned",
            registry=registry,
        )
        self.refused = Counter(
            "policy_engine_witness_refused",
            "Checkpoints refused, by reason (rollback, fork, gap, signature, proof)",
            ("reason",),
            registry=registry,
        )
        self.size = Gauge(
            "policy_engine_witness_log_size",
            "The accepted tree size of each replica's log",
            ("replica",),
            registry=registry,
        )
        self.failures = Counter(
            "policy_engine_witness_store_failures",
            "Polls that could not reach the bucket",
            registry=registry,
        )


class Refusal(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Witness:
    def __init__(
        self,
        store: ObjectStore,
        prefix: str,
        log_keys: Sequence[Ed25519PublicKey],
        cosigner: Cosigner,
        state_dir: Path,
        metrics: WitnessMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._prefix = prefix.strip("/")
        self._keys = list(log_keys)
        self._cosigner = cosigner
        self._key_id = cosigner.verifier.key_hash
        self._state_dir = state_dir
        self._metrics = metrics
        self._clock = clock
        self._reported: set[tuple[str, int, str]] = set()
        state_dir.mkdir(parents=True, exist_ok=True)

    def poll(self) -> list[tuple[str, str, str]]:
        """Follow every replica once; the refusals (replica, reason, detail) of this poll."""
        refusals: list[tuple[str, str, str]] = []
        try:
            replicas = self._store.children(self._prefix)
        except StoreUnavailable as error:
            self._metrics.failures.inc()
            _log.warning("witness_store_unavailable", error=str(error))
            return refusals
        for replica in replicas:
            if not _REPLICA.fullmatch(replica):
                _log.warning("witness_skipped_replica", reason="name is not a replica name")
                continue
            try:
                self._follow(replica, refusals)
            except StoreUnavailable as error:
                self._metrics.failures.inc()
                _log.warning("witness_store_unavailable", replica=replica, error=str(error))
        return refusals

    def view(self, replica: str) -> LogView:
        path = self._state_dir / f"{replica}.json"
        return LogView.from_json(json.loads(path.read_text())) if path.exists() else LogView()

    def _save(self, replica: str, view: LogView) -> None:
        write_durably(self._state_dir / f"{replica}.json", json.dumps(view.to_json()).encode())

    def _follow(self, replica: str, refusals: list[tuple[str, str, str]]) -> None:
        root = f"{self._prefix}/{replica}"
        view = self.view(replica)
        if view.pending is not None:
            self._upload(root, view)
            view = LogView(view.origin, view.size, view.root, view.below)
            self._save(replica, view)
        keys = self._store.keys(f"{root}/checkpoints/")
        sizes = sorted(s for k in keys if (s := parse_checkpoint_key(root, k)) is not None)
        try:
            below = [s for s in sizes if s <= view.size]
            if view.size and len(below) > view.below:
                raise Refusal(
                    "rollback",
                    f"a new checkpoint appeared at or below the accepted size {view.size}",
                )
            for size in (s for s in sizes if s > view.size):
                view = self._accept(replica, root, size, view, sizes)
        except Refusal as refusal:
            self._refuse(replica, view.size, refusal, refusals)

    def _accept(
        self, replica: str, root: str, size: int, view: LogView, sizes: list[int]
    ) -> LogView:
        note = self._get_text(checkpoint_key(root, size))
        checkpoint = self._open(note, view.origin, size)
        if view.size:
            self._check_proof(root, size, view, checkpoint)
        cosigned = self._cosigner.cosign(note, int(self._clock()))
        below = sum(1 for s in sizes if s <= size)
        accepted = LogView(checkpoint.origin, size, checkpoint.root_hash, below, cosigned)
        self._save(replica, accepted)  # before the cosignature leaves
        self._upload(root, accepted)
        accepted = LogView(checkpoint.origin, size, checkpoint.root_hash, below)
        self._save(replica, accepted)
        self._metrics.accepted.inc()
        self._metrics.size.labels(replica).set(size)
        _log.info("witness_cosigned", replica=replica, size=size, origin=checkpoint.origin)
        return accepted

    def _open(self, note: str, origin: str | None, size: int) -> Checkpoint:
        # A replica's origin is learnt from its first accepted checkpoint, then pinned.
        name = note.split("\n", 1)[0]
        if origin is not None and name != origin:
            raise Refusal("signature", f"checkpoint {size} is for origin {name!r}, not {origin!r}")
        try:
            checkpoint = LogTrust(name, tuple(self._keys)).open_checkpoint(note.encode())
        except (NoteError, CheckpointError) as error:
            raise Refusal("signature", f"checkpoint {size}: {error}") from None
        if checkpoint.size != size:
            raise Refusal("signature", f"checkpoint named {size} is for size {checkpoint.size}")
        return checkpoint

    def _check_proof(self, root: str, size: int, view: LogView, checkpoint: Checkpoint) -> None:
        raw = self._store.get(proof_key(root, size))
        if raw is None:
            raise Refusal("proof", f"checkpoint {size} has no consistency proof")
        try:
            document = json.loads(raw)
            old_size = int(document["old_size"])
            old_root = base64.b64decode(document["old_root"], validate=True)
            proof = [base64.b64decode(item, validate=True) for item in document["proof"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise Refusal("proof", f"checkpoint {size}: malformed proof ({error})") from None
        if old_size < view.size:
            raise Refusal(
                "rollback",
                f"checkpoint {size} extends size {old_size}, below the accepted {view.size}",
            )
        if old_size > view.size:
            raise Refusal("gap", f"checkpoint {size} extends size {old_size}, never accepted here")
        if old_root != view.root:
            raise Refusal("fork", f"checkpoint {size} extends another tree of size {view.size}")
        try:
            verify_consistency(view.size, size, proof, view.root, checkpoint.root_hash)
        except ProofError as error:
            raise Refusal("fork", f"checkpoint {size} is not consistent: {error}") from None

    def _upload(self, root: str, view: LogView) -> None:
        assert view.pending is not None
        self._store.put_locked(
            cosignature_key(root, self._key_id, view.size), view.pending.encode()
        )

    def _get_text(self, key: str) -> str:
        data = self._store.get(key)
        if data is None:
            raise StoreUnavailable(f"{key} was listed but cannot be read")
        return data.decode("utf-8", errors="replace")

    def _refuse(
        self, replica: str, size: int, refusal: Refusal, refusals: list[tuple[str, str, str]]
    ) -> None:
        refusals.append((replica, refusal.reason, refusal.detail))
        key = (replica, size, refusal.detail)
        if key in self._reported:
            return
        self._reported.add(key)
        self._metrics.refused.labels(refusal.reason).inc()
        _log.error(
            "witness_refused",
            replica=replica,
            reason=refusal.reason,
            detail=refusal.detail,
            accepted_size=size,
        )
