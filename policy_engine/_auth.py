"""Caller authentication: bearer tokens compared in constant time, optionally bound to tenants.

The OpenAI SDKs send their `api_key` as `Authorization: Bearer`, the Anthropic SDKs as
`x-api-key`; both are accepted, so an application authenticates by setting its SDK's
api key to its sidecar token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy_engine._errors import BadRequest, PolicyEngineError


class Unauthenticated(PolicyEngineError):
    status = 401
    error_type = "authentication"


class TenantForbidden(PolicyEngineError):
    status = 403
    error_type = "permission"


@dataclass(frozen=True, slots=True)
class Caller:
    name: str  # the token's label from config; logged and audited instead of the token
    tenants: frozenset[str]  # empty: any tenant

    def check_tenant(self, tenant: str) -> None:
        if self.tenants and tenant not in self.tenants:
            raise TenantForbidden(f"caller {self.name!r} may not act for tenant {tenant!r}")


ANONYMOUS = Caller("anonymous", frozenset())


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class CallerToken:
    name: str
    digest: bytes  # SHA-256 of the token: the token itself is never kept
    tenants: frozenset[str]


class Authenticator:
    def __init__(self, tokens: Sequence[CallerToken]) -> None:
        # Digests make every comparison the same length; all are compared, no early exit.
        self._tokens = [(t.digest, t) for t in tokens]

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def authenticate(self, headers: Mapping[str, str]) -> Caller:
        if not self._tokens:
            return ANONYMOUS
        presented = _presented_token(headers)
        if presented is None:
            raise Unauthenticated(
                "missing credentials: send 'Authorization: Bearer <token>' or 'x-api-key'"
            )
        digest = token_digest(presented)
        match: CallerToken | None = None
        for expected, token in self._tokens:
            if hmac.compare_digest(digest, expected):
                match = token
        if match is None:
            raise Unauthenticated("invalid credentials")
        return Caller(match.name, match.tenants)


def _presented_token(headers: Mapping[str, str]) -> str | None:
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else ""
    api_key = headers.get("x-api-key", "").strip()
    if bearer and api_key and bearer != api_key:
        # Two credentials name two callers: which one acts is not ours to guess.
        raise BadRequest("send one credential: 'Authorization: Bearer' or 'x-api-key', not both")
    return bearer or api_key or None
