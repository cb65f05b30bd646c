"""The console's model: the log index, verification, the resilience report and the impact
of proposed policies, each computed once and kept until what it depends on changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from policy_engine._config import Settings
from policy_engine._context import provider_catalog
from policy_engine.audit import AuditError, InclusionBundle, parse_record, prove_request
from policy_engine.console._index import LogIndex, rule_family
from policy_engine.console._queries import iso
from policy_engine.console._verify import Check, Verifier
from policy_engine.decision import (
    DecisionEngine,
    EmbeddedEngine,
    PolicySource,
    catalog_revision,
    decider_from_settings,
    engine_from_settings,
)
from policy_engine.impact import ImpactReport, policy_impact
from policy_engine.resilience import (
    REPORT_CONCURRENCY,
    ResilienceReport,
    build_report,
    read_policy_facts,
)


@dataclass(frozen=True, slots=True)
class Proposal:
    """A proposed policy directory (and, optionally, a proposed config's providers)."""

    name: str
    policy_dir: Path
    catalog: Settings | None = None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class RequestView:
    """One request as a page shows it. The parts are read defensively from the records:
    a damaged or hostile record is shown as what it holds, never breaks the page."""

    seq: int
    at: str
    outcome: dict[str, Any]  # the outcome record's event
    intent: dict[str, Any] | None  # its write-ahead intent's event, when there is one
    intent_seq: int | None
    record: str  # the outcome record's line, as it is in the log
    checks: tuple[Check, ...]

    @property
    def context(self) -> dict[str, Any]:
        return _mapping(self.outcome.get("context"))

    @property
    def policy(self) -> dict[str, Any]:
        return _mapping(self.outcome.get("policy"))

    @property
    def allowed(self) -> list[str]:
        return _strings(self.policy.get("allowed"))

    @property
    def denials(self) -> dict[str, list[str]]:
        denied = _mapping(self.policy.get("denied"))
        return {str(p): _strings(reasons) for p, reasons in sorted(denied.items())}

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(sorted({rule_family(r) for reasons in self.denials.values() for r in reasons}))

    @property
    def redact(self) -> dict[str, list[str]]:
        redact = _mapping(_mapping(self.policy.get("obligations")).get("redact"))
        return {str(p): _strings(types) for p, types in sorted(redact.items())}

    @property
    def attempts(self) -> list[dict[str, Any]]:
        attempts = self.outcome.get("attempts")
        return [a for a in attempts if isinstance(a, dict)] if isinstance(attempts, list) else []

    @property
    def redactions(self) -> dict[str, Any]:
        return _mapping(self.outcome.get("redactions"))

    @property
    def candidates(self) -> list[str]:
        found = (self.intent or {}).get("candidates")
        if not isinstance(found, list):
            return []
        return [str(c.get("provider")) for c in found if isinstance(c, dict)]

    @property
    def verified(self) -> bool | None:
        if any(check.ok is False for check in self.checks):
            return False
        return True if all(check.ok for check in self.checks) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "record": orjson.loads(self.record),
            "intent_seq": self.intent_seq,
            "intent": self.intent,
            "checks": [check.to_json() for check in self.checks],
            "verified": self.verified,
            "denials": self.denials,
            "rules": list(self.rules),
        }


@dataclass
class Console:
    settings: Settings
    keys: Sequence[Ed25519PublicKey]
    index: LogIndex
    proposals: Sequence[Proposal] = ()
    refresh_interval_s: float = 1.0
    impact_interval_s: float = 60.0  # a growing log's impact report is redone at most this often
    verifier: Verifier = field(init=False)
    engine: DecisionEngine = field(init=False)
    _refreshed: float = field(default=float("-inf"), init=False)
    _resilience: tuple[str, ResilienceReport] | None = field(default=None, init=False)
    _impacts: dict[str, tuple[str, int, float, ImpactReport]] = field(
        default_factory=dict, init=False
    )
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.verifier = Verifier(self.index, self.keys, self.settings.audit.origin)
        self.engine = engine_from_settings(self.settings, REPORT_CONCURRENCY)

    @property
    def catalog_revision(self) -> str:
        return catalog_revision(provider_catalog(self.settings))

    def refresh(self) -> None:
        """Index what the log gained, at most once per `refresh_interval_s`."""
        now = time.monotonic()
        if now - self._refreshed < self.refresh_interval_s:
            return
        self._refreshed = now
        self.index.refresh()
        self.verifier.ensure_fresh(self.index.size)

    def request(self, request_id: str, scope: Collection[str]) -> RequestView | None:
        rows = self.index.query(
            # By request id first: left to itself the planner walks the (kind, seq) index,
            # every outcome record of the log (4.5 s at a million records).
            "SELECT seq, at, tenant, intent_seq FROM records INDEXED BY records_request "
            "WHERE request_id = ? "
            "AND kind = 'request' ORDER BY seq DESC LIMIT 1",
            (request_id,),
        )
        if not rows or (scope and rows[0]["tenant"] not in scope):
            return None
        row = rows[0]
        line = self.index.line(row["seq"])
        if line is None:
            return None
        intent_seq = row["intent_seq"]
        intent_line = None if intent_seq is None else self.index.line(intent_seq)
        return RequestView(
            seq=row["seq"],
            at=iso(row["at"]),
            outcome=_event(line),
            intent=None if intent_line is None else _event(intent_line),
            intent_seq=intent_seq,
            record=line.decode(errors="replace"),
            checks=tuple(self.verifier.record_checks(row["seq"])),
        )

    async def proof(self, request_id: str) -> InclusionBundle:
        """The inclusion proof `audit prove` prints, for the request's outcome record."""
        return await asyncio.to_thread(prove_request, self.settings.audit.dir, request_id)

    def checkpoints(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self.index.query(
            "SELECT c.size, c.name, c.note, c.origin, c.root, c.computed, c.problem, "
            "(SELECT at FROM records WHERE seq = c.size - 1) AS at "
            "FROM checkpoints c ORDER BY c.size DESC LIMIT ?",
            (limit,),
        )
        views = []
        for row in rows:
            signature = self.verifier.checkpoint_signature(row["note"])
            root = None if row["root"] is None else bytes(row["root"])
            views.append(
                {
                    "size": row["size"],
                    "name": row["name"],
                    "origin": row["origin"],
                    "at": None if row["at"] is None else iso(row["at"]),
                    "root": None if root is None else root.hex(),
                    "signature": signature.to_json(),
                    "consistent": root is not None and root == bytes(row["computed"]),
                    "problem": row["problem"],
                }
            )
        return views

    async def resilience(self) -> ResilienceReport:
        """The report for the policy as it is now; rebuilt when its revision changes."""
        async with self._lock:
            engine = self.engine
            if isinstance(engine, EmbeddedEngine):
                await asyncio.to_thread(engine.reload)
            cached = self._resilience
            if cached is not None and cached[0] == engine.revision:
                return cached[1]
            decider = decider_from_settings(self.settings, engine)
            facts = await read_policy_facts(self.settings)
            report = await build_report(
                decider, self.settings, facts, concurrency=REPORT_CONCURRENCY
            )
            self._resilience = (engine.revision, report)
            return report

    async def impact(self, proposal: Proposal, scope: Collection[str]) -> ImpactReport:
        """The proposal replayed on the whole log: again at once when the proposal changed,
        and when the log grew, at most every `impact_interval_s` (a replay reads the log)."""
        async with self._lock:
            revision = await asyncio.to_thread(
                lambda: PolicySource.read(proposal.policy_dir).revision
            )
            size = self.index.size
            key = f"{proposal.name}\0{','.join(sorted(scope))}"
            cached = self._impacts.get(key)
            if (
                cached is not None
                and cached[0] == revision
                and (cached[1] == size or time.monotonic() - cached[2] < self.impact_interval_s)
            ):
                return cached[3]
            report = await policy_impact(
                self.settings, proposal.policy_dir, proposal.catalog, tenants=scope
            )
            self._impacts[key] = (revision, size, time.monotonic(), report)
            return report

    def proposal(self, name: str) -> Proposal | None:
        return next((p for p in self.proposals if p.name == name), None)

    async def close(self) -> None:
        await self.engine.close()
        self.index.close()


def _event(line: bytes) -> dict[str, Any]:
    try:
        return parse_record(line).event
    except AuditError:
        return {}  # the record's checks say what is wrong with it
