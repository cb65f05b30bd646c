"""Who is looking: the sidecar's caller tokens, presented once at a login form (then a
session cookie) or on every API call (`Authorization: Bearer`, `x-api-key`).

A session id is random and kept only in memory, mapped to the caller it was issued to;
the token itself is never stored. A token bound to tenants sees only their records.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping

from policy_engine._auth import ANONYMOUS, Authenticator, Caller, Unauthenticated

COOKIE = "pe_console"
SESSION_S = 8 * 3600
MAX_SESSIONS = 1024


class Sessions:
    def __init__(self, authenticator: Authenticator) -> None:
        self._auth = authenticator
        self._sessions: OrderedDict[str, tuple[Caller, float]] = OrderedDict()

    @property
    def required(self) -> bool:
        return self._auth.enabled

    def login(self, token: str) -> str:
        """A new session id for the caller `token` belongs to; Unauthenticated otherwise."""
        caller = self._auth.authenticate({"authorization": f"Bearer {token.strip()}"})
        session = secrets.token_urlsafe(32)
        self._sessions[session] = (caller, time.monotonic() + SESSION_S)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def logout(self, session: str | None) -> None:
        if session is not None:
            self._sessions.pop(session, None)

    def caller(self, headers: Mapping[str, str], session: str | None) -> Caller:
        """The caller of a request; Unauthenticated when tokens are set and none is shown."""
        if not self._auth.enabled:
            return ANONYMOUS
        if "authorization" in headers or "x-api-key" in headers:
            return self._auth.authenticate(headers)
        found = None if session is None else self._sessions.get(session)
        if found is None or found[1] < time.monotonic():
            raise Unauthenticated("sign in with a caller token")
        return found[0]
