"""What the report enumerates, read from the policy the sidecar uses: tenants and tags.

The tenants are policy data (`data.tenants`), so they come from the same place the
decisions do: the policy directory for the embedded engine, OPA's Data API otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import regopy

from policy_engine._config import Settings
from policy_engine._errors import PolicyUnavailable
from policy_engine.decision import PolicySource

if TYPE_CHECKING:
    import aiohttp

TENANTS_DOCUMENT = "tenants"
# The shipped policy lists the tags it understands here; a policy without this rule
# still gets a report over the tags its tenants carry.
KNOWN_TAGS_DOCUMENT = "router/known_privacy_tags"


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    tenants: dict[str, Any]
    privacy_tags: tuple[str, ...]  # every tag the policy or a tenant names, sorted


def _tenant_tags(tenants: dict[str, Any]) -> set[str]:
    tags: set[str] = set()
    for entry in tenants.values():
        if isinstance(entry, dict) and isinstance(entry.get("privacy_tags"), list):
            tags.update(t.strip().lower() for t in entry["privacy_tags"] if isinstance(t, str))
    return tags


def _facts(tenants: Any, known_tags: Any) -> PolicyFacts:
    if not isinstance(tenants, dict):
        raise PolicyUnavailable("malformed", f"data.{TENANTS_DOCUMENT} is not an object")
    tags = _tenant_tags(tenants)
    if isinstance(known_tags, list):
        tags.update(t for t in known_tags if isinstance(t, str))
    return PolicyFacts(tenants, tuple(sorted(tags)))


def _embedded_facts(source: PolicySource) -> PolicyFacts:
    interpreter = regopy.Interpreter()
    try:
        for name, text in source.modules.items():
            interpreter.add_module(name, text)
        output = interpreter.query(f"x := data.{KNOWN_TAGS_DOCUMENT.replace('/', '.')}")
    except regopy.RegoError as error:
        raise PolicyUnavailable("not_loaded", f"policy does not compile: {error}") from None
    known = output.results[0].bindings.get("x") if output.ok() and output.results else None
    return _facts(source.data.get(TENANTS_DOCUMENT), known)


async def _opa_document(session: aiohttp.ClientSession, opa_url: str, path: str) -> Any:
    import aiohttp  # only for a policy served by OPA (see read_policy_facts)

    url = f"{opa_url.rstrip('/')}/v1/data/{path}"
    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise PolicyUnavailable("error", f"OPA answered {response.status} for {path}")
            document = await response.json()
    except (aiohttp.ClientError, TimeoutError) as error:
        raise PolicyUnavailable("unreachable", f"OPA unreachable: {type(error).__name__}") from None
    return document.get("result") if isinstance(document, dict) else None


async def read_policy_facts(settings: Settings) -> PolicyFacts:
    policy = settings.policy
    if not policy.opa_url:
        return _embedded_facts(PolicySource.read(policy.policy_dir))
    # Imported only for a policy served by OPA: aiohttp costs every process that imports
    # this module several MB, and the embedded engine needs none of it.
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=max(policy.timeout_ms / 1000, 5.0))
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tenants = await _opa_document(session, policy.opa_url, TENANTS_DOCUMENT)
        known = await _opa_document(session, policy.opa_url, KNOWN_TAGS_DOCUMENT)
    return _facts(tenants, known)
