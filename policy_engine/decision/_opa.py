"""Decisions from an OPA server over its REST Data API: the production path.

The hot path posts straight to `/v1/data/<entrypoint>` over a pooled aiohttp session
(measured cheaper than going through opa-python-client, which opens a request
context per call); opa-python-client does the administration: health and the policy
listing that gives a revision when OPA runs without bundles.
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from opa_client import AsyncOpaClient
from opa_client.errors import ConnectionsError, PolicyNotFoundError

from policy_engine._errors import PolicyUnavailable

_UNKNOWN = "unknown"
# What opa-python-client raises when OPA is down or a module vanished mid-listing.
_ADMIN_ERRORS = (
    aiohttp.ClientError,
    TimeoutError,
    ConnectionsError,
    PolicyNotFoundError,
    ValueError,
    KeyError,
)


# A bundle's name and revision are free text in OPA (`opa build --revision`): they are
# percent-encoded here, every character but these, before the revision is a response
# header (where CR/LF would break the answer after the provider was called) and part
# of the audit record. Encoding keeps them exact (urllib.parse.unquote gives them back)
# and a revision whatever its characters never refuses a request; an absurd length does.
_REVISION_SAFE = "-._~:/+="
_MAX_REVISION = 1024


def _token(value: Any) -> str:
    if not isinstance(value, str):
        raise PolicyUnavailable("malformed", "OPA reported a bundle revision that is not a string")
    return quote(value, safe=_REVISION_SAFE)


def _bundles(provenance: Any) -> dict[str, Any]:
    bundles = provenance.get("bundles") if isinstance(provenance, dict) else None
    return bundles if isinstance(bundles, dict) else {}


def _error_code(raw: bytes) -> str:
    """OPA's error code, when the body is OPA's own JSON error (not a proxy's page)."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    code = document.get("code") if isinstance(document, dict) else None
    return f" ({code})" if isinstance(code, str) else ""


class OpaEngine:
    def __init__(self, opa_url: str, entrypoint: str, timeout_ms: float) -> None:
        parts = urlsplit(opa_url)
        self._url = f"{opa_url.rstrip('/')}/v1/data/{entrypoint}?provenance=true"
        self._timeout = aiohttp.ClientTimeout(total=timeout_ms / 1000)
        self._session: aiohttp.ClientSession | None = None
        self._admin = AsyncOpaClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            timeout=timeout_ms / 1000,
        )
        self._admin_open = False
        self._policy_revision = _UNKNOWN
        self._refresh_lock = asyncio.Lock()

    @property
    def revision(self) -> str:
        return self._policy_revision

    @property
    def cache_fields(self) -> frozenset[str] | None:
        # OPA may activate a new bundle at any moment and we learn its revision only
        # from a decision, so caching could serve a decision from a replaced policy.
        return None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30),
                json_serialize=lambda value: orjson.dumps(value).decode(),
            )
        return self._session

    async def evaluate(self, policy_input: dict[str, Any]) -> tuple[Any, str]:
        body = orjson.dumps({"input": policy_input})
        try:
            async with self._client().post(
                self._url, data=body, headers={"Content-Type": "application/json"}
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            raise PolicyUnavailable("timeout", "OPA did not answer in time") from None
        except aiohttp.ClientError as error:
            raise PolicyUnavailable(
                "unreachable", f"OPA unreachable: {type(error).__name__}"
            ) from None
        if status != 200:
            raise PolicyUnavailable("error", f"OPA answered {status}{_error_code(raw)}")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise PolicyUnavailable("malformed", "OPA answered 200 with non-JSON") from None
        if not isinstance(document, dict):
            raise PolicyUnavailable("malformed", "OPA's answer is not a JSON object")
        provenance = document.get("provenance")
        if self._policy_revision == _UNKNOWN and not _bundles(provenance):
            await self._refresh_quietly()
        return document.get("result"), self._revision_of(provenance)

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_revision()
        except _ADMIN_ERRORS:
            return

    def _revision_of(self, provenance: Any) -> str:
        bundles = _bundles(provenance)
        if bundles:
            revision = "bundle:" + ",".join(
                f"{_token(name)}@{_token(info.get('revision', ''))}"
                for name, info in sorted(bundles.items())
                if isinstance(info, dict)
            )
            if len(revision) > _MAX_REVISION:
                raise PolicyUnavailable(
                    "malformed",
                    f"OPA's bundle revisions are longer than {_MAX_REVISION} characters",
                )
            return revision
        return self._policy_revision

    async def _admin_client(self) -> AsyncOpaClient:
        # AsyncOpaClient opens its HTTP session only in __aenter__; without it every
        # call fails (and check_health swallows that as "unhealthy").
        if not self._admin_open:
            await self._admin.__aenter__()
            self._admin_open = True
        return self._admin

    async def refresh_revision(self) -> None:
        """Hash of the modules OPA holds: the revision when OPA runs without bundles."""
        async with self._refresh_lock:
            admin = await self._admin_client()
            digest = hashlib.sha256()
            for policy_id in sorted(await admin.get_policies_list()):
                policy = await admin.get_policy(policy_id)
                raw = policy.get("result", {}).get("raw", "")
                digest.update(policy_id.encode() + b"\0" + raw.encode() + b"\0")
            self._policy_revision = "opa-sha256:" + digest.hexdigest()

    async def ready(self) -> bool:
        if not await (await self._admin_client()).check_health():
            return False
        try:
            await self.refresh_revision()
        except _ADMIN_ERRORS:
            return False
        return True

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._admin.close_connection()
        self._admin_open = False
