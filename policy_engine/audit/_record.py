"""One audit record: canonical JSON (RFC 8785) on one line, signed with Ed25519.

Fields: `at` (UTC time), `event` (what the pipeline recorded), `kid` (key id, see
`_keys`), `kind` ("intent", "request" or "recovery"), `prev` (hex leaf hash of the previous
record, 64 zeros for the first), `seq` (0-based; also the Merkle leaf index) and
`sig` (base64 Ed25519 signature over the canonical record without `sig`).
The record's leaf hash is SHA-256(0x00 || line), line without its newline.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from policy_engine.audit._errors import RecordError
from policy_engine.audit._hashing import hash_leaf
from policy_engine.audit._keys import record_key_id

GENESIS_PREV = "0" * 64
KINDS = ("request", "intent", "recovery")
_FIELDS = frozenset({"at", "event", "kid", "kind", "prev", "seq", "sig"})
# RFC 8785 allows only integers a double holds exactly; larger ones take the slow path,
# where rfc8785 refuses them as it always did.
_SAFE_INT = 2**53 - 1
# Types both write identically whatever the value (strings: see below).
_PLAIN = frozenset({str, bool, type(None)})


def _orjson_is_canonical(value: object) -> bool:
    """Whether orjson with sorted keys writes `value` exactly as RFC 8785 would.

    Checked against rfc8785 (tests/audit/test_canonical.py): the two agree on every
    string escape (control characters as \\b \\t \\n \\f \\r or lowercase \\u00xx; "/",
    DEL, U+2028/2029 and other non-ASCII written raw as UTF-8), on booleans, null and
    integers within +-(2**53 - 1). For keys outside ASCII the sort orders differ (UTF-16
    code units against code points), so those, and any type other than the plain JSON
    ones, are left to rfc8785.
    """
    # Written as loops that skip the call for strings, booleans and null (most
    # values): this walk runs on every record sealed, and `all(...)` over a generator
    # cost about half of it.
    if type(value) is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) not in _PLAIN and not _orjson_is_canonical(item):
                return False
        return True
    if type(value) is list:
        for item in value:
            if type(item) not in _PLAIN and not _orjson_is_canonical(item):
                return False
        return True
    if type(value) in _PLAIN:
        return True
    if type(value) is int:
        return -_SAFE_INT <= value <= _SAFE_INT
    if type(value) is float:
        # Both write a float the same way wherever it stands, but not the same way for
        # every float (1.0 as "1.0" against "1", 1e-6 as "1e-6" against "0.000001",
        # -0.0, NaN), so each one is written both ways and compared: about 1 µs,
        # against about 60 µs for rfc8785 on a whole record.
        try:
            return orjson.dumps(value) == rfc8785.dumps(value)
        except rfc8785.CanonicalizationError:
            return False
    return False


def canonical_json(value: Mapping[str, Any]) -> bytes:
    """RFC 8785 bytes of `value`, by orjson (native code) where its output is identical."""
    # rfc8785 is pure Python and was the costliest step of sealing a record.
    if _orjson_is_canonical(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate: rfc8785 below raises its own, documented error
    return rfc8785.dumps(value)


class RecordSigner:
    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.kid = record_key_id(key.public_key())

    def seal(self, *, seq: int, prev: str, at: str, kind: str, event: Mapping[str, Any]) -> bytes:
        """The record's line (no newline): canonical JSON including the signature."""
        unsigned = canonical_json(
            {"at": at, "event": event, "kid": self.kid, "kind": kind, "prev": prev, "seq": seq}
        )
        signature = base64.b64encode(self._key.sign(unsigned)).decode()
        # "sig" sorts after every other key, so splicing it before the closing brace
        # yields the RFC 8785 form of the full record without canonicalising the event
        # twice (the costliest step); `parse_record` re-checks canonical form.
        return unsigned[:-1] + b',"sig":"' + signature.encode() + b'"}'


@dataclass(frozen=True)
class Record:
    seq: int
    prev: str
    at: str
    kind: str
    kid: str
    sig: bytes
    event: dict[str, Any]
    line: bytes

    @property
    def leaf_hash(self) -> bytes:
        return hash_leaf(self.line)

    def verify(self, trusted: Mapping[str, Ed25519PublicKey]) -> None:
        key = trusted.get(self.kid)
        if key is None:
            raise RecordError(f"signed by untrusted key id {self.kid!r}")
        # The line is canonical (checked by `parse_record`) and "sig" is its last key,
        # so the signed bytes are the line with that member cut out.
        unsigned = self.line[: self.line.rfind(b',"sig":')] + b"}"
        try:
            key.verify(self.sig, unsigned)
        except InvalidSignature as exc:
            raise RecordError(f"signature does not verify with key id {self.kid!r}") from exc


def _is_utc_timestamp(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return moment.utcoffset() == timedelta(0)


def parse_record(line: bytes) -> Record:
    """Parse and structurally check one line; signatures are checked by `Record.verify`."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or set(data) != _FIELDS:
        raise RecordError(f"record must be an object with exactly the fields {sorted(_FIELDS)}")
    seq, prev, at, kind, kid, sig, event = (
        data["seq"],
        data["prev"],
        data["at"],
        data["kind"],
        data["kid"],
        data["sig"],
        data["event"],
    )
    if type(seq) is not int or seq < 0:
        raise RecordError(f"seq {seq!r} is not a non-negative integer")
    if not isinstance(prev, str) or len(prev) != 64 or prev.strip("0123456789abcdef"):
        raise RecordError(f"prev {prev!r} is not a hex SHA-256 hash")
    if not isinstance(at, str) or not isinstance(kid, str) or not isinstance(event, dict):
        raise RecordError("at and kid must be strings and event an object")
    if not _is_utc_timestamp(at):
        raise RecordError(f"at {at!r} is not an ISO 8601 UTC timestamp")
    if kind not in KINDS:
        raise RecordError(f"kind {kind!r} is not one of {list(KINDS)}")
    try:
        signature = base64.b64decode(sig, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise RecordError(f"sig is not base64: {exc}") from exc
    try:
        canonical = canonical_json(data)
    except rfc8785.CanonicalizationError as exc:
        raise RecordError(f"cannot be canonicalised: {exc}") from exc
    if canonical != line:
        raise RecordError("line is not in RFC 8785 canonical form")
    return Record(seq, prev, at, kind, kid, signature, event, line)
