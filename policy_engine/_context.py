"""The routing context: who is asking, under which constraints, for what."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adapters import ChatRequest, ImagePart
from policy_engine._config import Settings
from policy_engine._errors import BadRequest
from policy_engine.fleet import NO_BUDGET, BudgetView

TENANT_HEADER = "x-tenant-id"
RESIDENCY_HEADER = "x-data-residency"
TAGS_HEADER = "x-privacy-tags"

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_RESIDENCY = re.compile(r"[a-z]{2,16}")
# Tags start with a letter: a number pasted here (an SSN, a phone) is refused, not
# recorded in the audit log.
_TAG = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_MAX_TAGS = 32


@dataclass(frozen=True, slots=True)
class RoutingHeaders:
    tenant: str
    residency: str | None
    privacy_tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoutingContext:
    tenant: str
    residency: str | None
    privacy_tags: tuple[str, ...]
    model: str
    stream: bool
    input_chars: int
    protocol: str
    budget: BudgetView | None = None  # the tenant's and caller's limits, when any apply

    def summary(self) -> dict[str, Any]:
        return {
            "residency": self.residency,
            "privacy_tags": list(self.privacy_tags),
            "model": self.model,
            "stream": self.stream,
            "input_chars": self.input_chars,
            "protocol": self.protocol,
        }


def read_routing_headers(headers: Mapping[str, str]) -> RoutingHeaders:
    """Parse the routing headers; values are echoed in errors only when they are well-formed.

    Residency and privacy tags are read as lists (how repeated header lines arrive):
    tags add up, and the residencies named must all be the same one."""
    tenant = headers.get(TENANT_HEADER, "").strip()
    if not tenant:
        raise BadRequest("missing required header X-Tenant-ID", param="X-Tenant-ID")
    if not _TENANT.fullmatch(tenant):
        raise BadRequest(
            "X-Tenant-ID must be 1-128 characters of letters, digits and _ . : -",
            param="X-Tenant-ID",
        )
    residency = _residency(headers.get(RESIDENCY_HEADER, ""))
    tags: set[str] = set()
    for raw in headers.get(TAGS_HEADER, "").split(","):
        tag = raw.strip().lower()
        if not tag:
            continue
        if not _TAG.fullmatch(tag):
            raise BadRequest(
                "X-Privacy-Tags must be a comma list of tags such as pii,phi",
                param="X-Privacy-Tags",
            )
        tags.add(tag)
    if len(tags) > _MAX_TAGS:
        raise BadRequest(f"X-Privacy-Tags has more than {_MAX_TAGS} tags", param="X-Privacy-Tags")
    return RoutingHeaders(tenant, residency, tuple(sorted(tags)))


def _residency(value: str) -> str | None:
    """One region, from a header that may be a list (repeated lines, RFC 9110): every
    entry must name the same region, so a second line can never replace the first."""
    entries = [value] if "," not in value else value.split(",")
    regions = {region for entry in entries if (region := entry.strip().lower())}
    for region in regions:
        if not _RESIDENCY.fullmatch(region):
            raise BadRequest(
                "X-Data-Residency must be a lowercase region code such as eu or us",
                param="X-Data-Residency",
            )
    if len(regions) > 1:
        raise BadRequest(
            f"X-Data-Residency names more than one region ({', '.join(sorted(regions))}); "
            "a request has one",
            param="X-Data-Residency",
        )
    return regions.pop() if regions else None


def approximate_input_chars(request: ChatRequest) -> int:
    total = sum(len(s) for s in request.system)
    for message in request.messages:
        for part in message.content:
            total += 0 if isinstance(part, ImagePart) else len(part.text)
        for call in message.tool_calls:
            total += len(call.arguments)
        if message.tool_result is not None:
            for part in message.tool_result.content:
                total += 0 if isinstance(part, ImagePart) else len(part.text)
    return total


def routing_context(
    headers: RoutingHeaders,
    request: ChatRequest,
    protocol: str,
    input_chars: int | None = None,
    budget: BudgetView | None = None,
) -> RoutingContext:
    return RoutingContext(
        tenant=headers.tenant,
        residency=headers.residency,
        privacy_tags=headers.privacy_tags,
        model=request.model,
        stream=request.stream,
        input_chars=approximate_input_chars(request) if input_chars is None else input_chars,
        protocol=protocol,
        budget=budget,
    )


def provider_catalog(settings: Settings) -> dict[str, Any]:
    """The providers as the policy sees them: built once, part of every policy input."""
    return {
        p.id: {
            "adapter": p.adapter,
            "models": sorted(p.models),
            "attributes": p.attributes.model_dump(exclude_none=True),
        }
        for p in settings.providers
    }


def policy_input(context: RoutingContext, catalog: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "tenant": context.tenant,
        "request": {
            "residency": context.residency,
            "privacy_tags": list(context.privacy_tags),
            "model": context.model,
            "stream": context.stream,
            "input_chars": context.input_chars,
            "protocol": context.protocol,
        },
        "budget": (context.budget or NO_BUDGET).policy_input(),
        "providers": catalog,
    }
