"""An SQLite index of an audit log, built once and then extended as the log grows.

Each refresh reads only the bytes appended since the last one (the live segment's
zero tail and a torn last line are left for later), so a page view never re-reads
the log. The index holds each record's place (segment, offset, length), its leaf hash,
and the fields the console filters and counts by; the record itself is read back
from its segment when it is shown. If the bytes under the last indexed record change
(the log was replaced or rewritten), the index is rebuilt from the start.

The on-disk layout read here is the audit package's (`DIR/segment-NNNNNNNN.jsonl`,
`DIR/checkpoints/<size>.note`); its readers go over whole segments, which is what
this index avoids.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from policy_engine.audit import AuditError, CompactRange, hash_leaf, parse_checkpoint

_SEGMENT = re.compile(r"segment-(\d{8})\.jsonl")
_CHECKPOINT = re.compile(r"(\d{20})\.note")
# A saved frontier at least this often, so a checkpoint's root is recomputed from at
# most this many leaves.
FRONTIER_EVERY = 4096
_SCHEMA_VERSION = "5"
GENESIS = "0" * 64  # the first record's prev

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (number INTEGER PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY, segment INTEGER NOT NULL, offset INTEGER NOT NULL,
    length INTEGER NOT NULL, leaf BLOB NOT NULL, linked INTEGER NOT NULL, at REAL NOT NULL,
    kind TEXT NOT NULL, request_id TEXT, tenant TEXT, outcome TEXT, status INTEGER,
    provider TEXT, fallback INTEGER NOT NULL, revision TEXT, model TEXT, residency TEXT,
    tags TEXT, intent_seq INTEGER
);
CREATE INDEX IF NOT EXISTS records_request ON records (request_id);
CREATE INDEX IF NOT EXISTS records_kind_at ON records (kind, at);
CREATE INDEX IF NOT EXISTS records_kind_seq ON records (kind, seq);
CREATE INDEX IF NOT EXISTS records_tenant ON records (tenant, kind, seq);
CREATE INDEX IF NOT EXISTS records_outcome ON records (outcome, kind, seq);
CREATE INDEX IF NOT EXISTS records_revision ON records (revision, kind, seq);
CREATE INDEX IF NOT EXISTS records_intent ON records (intent_seq);
CREATE TABLE IF NOT EXISTS attempts (seq INTEGER NOT NULL, provider TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_provider ON attempts (provider, seq);
CREATE INDEX IF NOT EXISTS attempts_seq ON attempts (seq);
CREATE TABLE IF NOT EXISTS rules (seq INTEGER NOT NULL, rule TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS rules_rule ON rules (rule, seq);
CREATE INDEX IF NOT EXISTS rules_seq ON rules (seq);
CREATE TABLE IF NOT EXISTS facets (facet TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (facet, value)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup (
    dim TEXT NOT NULL, minute INTEGER NOT NULL, tenant TEXT NOT NULL, outcome TEXT NOT NULL,
    revision TEXT NOT NULL, n INTEGER NOT NULL, fallbacks INTEGER NOT NULL,
    PRIMARY KEY (dim, minute, tenant, outcome, revision)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frontiers (size INTEGER PRIMARY KEY, nodes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT NOT NULL, origin TEXT,
    root BLOB, computed BLOB, problem TEXT
);
"""


@dataclass(frozen=True, slots=True)
class Damage:
    """Where the index had to stop: a line that is not a record."""

    where: str
    reason: str


def rule_family(reason: str) -> str:
    """`residency` for "residency: tenant requires eu, ..."; the reason itself otherwise."""
    family, colon, _ = reason.partition(":")
    return family.strip() if colon else reason.strip()


def _timestamp(at: Any) -> float:
    try:
        return datetime.fromisoformat(str(at)).timestamp()
    except ValueError:
        return 0.0


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class LogIndex:
    """The index of one log directory; every method may be called from any thread."""

    def __init__(self, audit_dir: Path, path: str = ":memory:") -> None:
        self.audit_dir = audit_dir
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(
            "PRAGMA journal_mode = WAL" if path != ":memory:" else "PRAGMA temp_store = MEMORY"
        )
        self._db.execute("PRAGMA synchronous = OFF")  # a lost index is rebuilt, never trusted
        self._db.executescript(_SCHEMA)
        self.damage: Damage | None = None
        if self._meta("schema") != _SCHEMA_VERSION or self._meta("dir") != str(audit_dir):
            self._reset()

    # -- building ---------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _reset(self) -> None:
        for table in (
            "meta",
            "segments",
            "records",
            "attempts",
            "rules",
            "facets",
            "rollup",
            "frontiers",
            "checkpoints",
        ):
            self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
        self._set_meta("schema", _SCHEMA_VERSION)
        self._set_meta("dir", str(self.audit_dir))
        self.damage = None

    @property
    def size(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(seq) FROM records").fetchone()
            return 0 if row[0] is None else int(row[0]) + 1

    def refresh(self) -> int:
        """Index what was appended since the last refresh; the records added."""
        with self._lock:
            if not self._still_the_same_log():
                self._reset()
            before = self.size
            self._db.execute("BEGIN")
            try:
                self._ingest()
                self._index_checkpoints()
                self._db.execute("COMMIT")
                if self.size - before > FRONTIER_EVERY:
                    # Statistics for the query planner once the index has grown a lot.
                    self._db.execute("PRAGMA optimize")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self.size - before

    def _still_the_same_log(self) -> bool:
        row = self._db.execute(
            "SELECT segment, offset, length, leaf FROM records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return True
        segment, offset, length, leaf = row
        try:
            with self._segment_path(segment).open("rb") as file:
                file.seek(offset)
                return hash_leaf(file.read(length)) == bytes(leaf)
        except OSError:
            return False

    def _segment_path(self, number: int) -> Path:
        return self.audit_dir / f"segment-{number:08d}.jsonl"

    def _segments(self) -> list[int]:
        if not self.audit_dir.is_dir():
            return []
        return sorted(
            int(m.group(1)) for p in self.audit_dir.iterdir() if (m := _SEGMENT.fullmatch(p.name))
        )

    def _ingest(self) -> None:
        if self.damage is not None:
            return
        done = dict(self._db.execute("SELECT number, size FROM segments").fetchall())
        last = self._db.execute("SELECT leaf, at FROM records ORDER BY seq DESC LIMIT 1").fetchone()
        state = _Tail(
            self.size, None if last is None else last[0], 0.0 if last is None else last[1]
        )
        frontier = self._frontier_at(state.seq)
        for number in self._segments():
            if number < max(done, default=0):
                continue
            start = done.get(number, 0)
            for offset, line in _appended_lines(self._segment_path(number), start):
                problem = self._add(number, offset, line, state)
                if problem is not None:
                    # Kept up to the damage, so a restarted console stops at the same line.
                    self.damage = Damage(f"{self._segment_path(number).name} @{offset}", problem)
                    self._flush(state)
                    self._db.execute(
                        "INSERT OR REPLACE INTO segments VALUES (?, ?)", (number, start)
                    )
                    self._save_frontier(frontier)
                    return
                frontier.append(state.leaf or b"")
                if frontier.size % FRONTIER_EVERY == 0:
                    self._flush(state)
                    self._save_frontier(frontier)
                start = offset + len(line) + 1
            self._db.execute("INSERT OR REPLACE INTO segments VALUES (?, ?)", (number, start))
        self._flush(state)
        self._save_frontier(frontier)

    def _add(self, segment: int, offset: int, line: bytes, state: _Tail) -> str | None:
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            return f"not JSON: {error}"
        if not isinstance(data, dict) or data.get("seq") != state.seq:
            return f"expected the record of seq {state.seq}"
        leaf = hash_leaf(line)
        event = _dict(data.get("event"))
        context = _dict(event.get("context"))
        policy = _dict(event.get("policy"))
        kind = str(data.get("kind"))
        attempts = [
            a["provider"]
            for a in _list(event.get("attempts"))
            if isinstance(a, dict) and isinstance(a.get("provider"), str)
        ]
        provider = _str(event.get("provider"))
        tags = context.get("privacy_tags")
        intent = event.get("intent_seq")
        state.records.append(
            (
                state.seq,
                segment,
                offset,
                len(line),
                leaf,
                int(data.get("prev") == (GENESIS if state.leaf is None else state.leaf.hex())),
                _timestamp(data.get("at")) or state.at,
                kind,
                _str(event.get("request_id")),
                _str(event.get("tenant")),
                _str(event.get("outcome")),
                event.get("status") if type(event.get("status")) is int else None,
                provider,
                int(bool(provider and attempts and attempts[0] != provider)),
                _str(policy.get("revision")),
                _str(context.get("model")),
                _str(context.get("residency")),
                ",".join(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else None,
                intent if type(intent) is int else None,
            ),
        )
        if kind == "request":
            state.attempts += [(state.seq, p) for p in dict.fromkeys(attempts)]
            families = {
                rule_family(reason)
                for reasons in _dict(policy.get("denied")).values()
                if isinstance(reasons, list)
                for reason in reasons
                if isinstance(reason, str)
            }
            state.rules += [(state.seq, f) for f in families]
            # Outcome counts per minute, tenant, outcome and revision, also per provider tried
            # and per denial rule: what the charts and totals read instead of every record.
            minute = int((_timestamp(data.get("at")) or state.at) // 60)
            keys = (
                minute,
                _str(event.get("tenant")) or "",
                _str(event.get("outcome")) or "",
                _str(policy.get("revision")) or "",
            )
            fell_back = int(bool(provider and attempts and attempts[0] != provider))
            for dim in (
                "",
                *(f"p:{p}" for p in dict.fromkeys(attempts)),
                *(f"r:{f}" for f in families),
            ):
                counts = state.rollup.setdefault((dim, *keys), [0, 0])
                counts[0] += 1
                counts[1] += fell_back
            # The values each filter offers, kept as they appear: a page never scans for them.
            state.facets.update(
                [
                    *(("tenant", v) for v in (_str(event.get("tenant")),) if v),
                    *(("outcome", v) for v in (_str(event.get("outcome")),) if v),
                    *(("revision", v) for v in (_str(policy.get("revision")),) if v),
                    *(("provider", p) for p in attempts),
                    *(("rule", f) for f in families),
                ]
            )
        state.seq, state.leaf = state.seq + 1, leaf
        state.at = _timestamp(data.get("at")) or state.at
        return None

    def _flush(self, state: _Tail) -> None:
        self._db.executemany(
            "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", state.records
        )
        self._db.executemany("INSERT INTO attempts VALUES (?, ?)", state.attempts)
        self._db.executemany("INSERT INTO rules VALUES (?, ?)", state.rules)
        self._db.executemany(
            "INSERT INTO rollup VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE "
            "SET n = n + excluded.n, fallbacks = fallbacks + excluded.fallbacks",
            [(*key, n, f) for key, (n, f) in state.rollup.items()],
        )
        self._db.executemany("INSERT OR IGNORE INTO facets VALUES (?, ?)", state.facets)
        state.records, state.attempts, state.rules = [], [], []
        state.rollup, state.facets = {}, set()

    def _save_frontier(self, frontier: CompactRange) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO frontiers VALUES (?, ?)",
            (frontier.size, b"".join(frontier.hashes)),
        )

    def _frontier_at(self, size: int) -> CompactRange:
        """The tree's frontier at `size`: the nearest saved one, extended with leaves."""
        row = self._db.execute(
            "SELECT size, nodes FROM frontiers WHERE size <= ? ORDER BY size DESC LIMIT 1",
            (size,),
        ).fetchone()
        if row is None:
            frontier = CompactRange()
        else:
            nodes = bytes(row[1])
            frontier = CompactRange.from_hashes(
                row[0], [nodes[i : i + 32] for i in range(0, len(nodes), 32)]
            )
        for (leaf,) in self._db.execute(
            "SELECT leaf FROM records WHERE seq >= ? AND seq < ? ORDER BY seq",
            (frontier.size, size),
        ):
            frontier.append(bytes(leaf))
        return frontier

    def _index_checkpoints(self) -> None:
        folder = self.audit_dir / "checkpoints"
        if not folder.is_dir():
            return
        known = {row[0] for row in self._db.execute("SELECT size FROM checkpoints")}
        size = self.size
        for path in sorted(folder.iterdir()):
            match = _CHECKPOINT.fullmatch(path.name)
            if match is None or int(match.group(1)) in known or int(match.group(1)) > size:
                continue  # a checkpoint past the indexed records waits for them
            note = path.read_text(errors="replace")
            origin: str | None = None
            root: bytes | None = None
            problem: str | None = None
            try:
                checkpoint = parse_checkpoint(note.split("\n\n", 1)[0] + "\n")
                origin, root = checkpoint.origin, checkpoint.root_hash
                if checkpoint.size != int(match.group(1)):
                    problem = f"name disagrees with tree size {checkpoint.size}"
            except AuditError as error:
                problem = str(error)
            computed = self._frontier_at(int(match.group(1))).root()
            self._db.execute(
                "INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(match.group(1)), path.name, note, origin, root, computed, problem),
            )

    # -- reading ----------------------------------------------------------------------

    def query(
        self, sql: str, parameters: tuple[Any, ...] | dict[str, Any] = ()
    ) -> list[sqlite3.Row]:
        with self._lock:
            cursor = self._db.execute(sql, parameters)
            cursor.row_factory = sqlite3.Row
            return list(cursor.fetchall())

    def line(self, seq: int) -> bytes | None:
        """The record's line as it is in its segment now."""
        rows = self.query("SELECT segment, offset, length FROM records WHERE seq = ?", (seq,))
        if not rows:
            return None
        segment, offset, length = rows[0]
        with self._segment_path(segment).open("rb") as file:
            file.seek(offset)
            return file.read(length)

    def leaves(self, size: int) -> list[bytes]:
        return [
            bytes(row[0])
            for row in self.query("SELECT leaf FROM records WHERE seq < ? ORDER BY seq", (size,))
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


@dataclass(slots=True)
class _Tail:
    """Where ingestion stands, and the rows it has not written yet (written in batches)."""

    seq: int  # the next record's seq
    leaf: bytes | None  # the last record's leaf hash
    at: float
    records: list[tuple[Any, ...]] = field(default_factory=list)
    attempts: list[tuple[int, str]] = field(default_factory=list)
    rules: list[tuple[int, str]] = field(default_factory=list)
    rollup: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)
    facets: set[tuple[str, str]] = field(default_factory=set)


def _appended_lines(path: Path, start: int) -> Iterator[tuple[int, bytes]]:
    """Complete lines from byte `start` on: up to the zero tail, without a torn last line."""
    with path.open("rb") as file:
        file.seek(start)
        data = file.read()
    data = data.rstrip(b"\0")
    end = data.rfind(b"\n") + 1
    offset = 0
    while offset < end:
        newline = data.index(b"\n", offset, end)
        yield start + offset, data[offset:newline]
        offset = newline + 1
