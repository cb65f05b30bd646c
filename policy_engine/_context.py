"""The routing context: who is asking, under which constraints, for what."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from adapters import ChatRequest, EmbeddingRequest, ImagePart
from policy_engine._config import Settings
from policy_engine._errors import BadRequest
from policy_engine.fleet import NO_BUDGET, BudgetView

TENANT_HEADER = "x-tenant-id"
RESIDENCY_HEADER = "x-data-residency"
TAGS_HEADER = "x-privacy-tags"
TASK_CLASS_HEADER = "x-task-class"

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_RESIDENCY = re.compile(r"[a-z]{2,16}")
# Tags start with a letter: a number pasted here (an SSN, a phone) is refused, not
# recorded in the audit log.
_TAG = re.compile(r"[a-z][a-z0-9_-]{0,31}")
_MAX_TAGS = 32
_MAX_TASK_CLASSES = 8

Operation = Literal["chat", "responses", "embeddings"]
"""What the request asks a provider to do: generate text (chat, the Responses API) or
turn inputs into vectors; the policy sees it as `input.request.operation`."""
OPERATIONS: tuple[Operation, ...] = ("chat", "responses", "embeddings")

# An image counts as the most a provider charges for one within its size limits
# (Anthropic: about 1,600 tokens), so a window check never underestimates it by much.
TOKENS_PER_IMAGE = 1600


@dataclass(frozen=True, slots=True)
class RoutingHeaders:
    tenant: str
    residency: str | None
    privacy_tags: tuple[str, ...]
    task_classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingContext:
    tenant: str
    residency: str | None
    privacy_tags: tuple[str, ...]
    model: str
    stream: bool
    input_chars: int
    protocol: str
    task_classes: tuple[str, ...] = ()  # from X-Task-Class; the tenant's default is the policy's
    input_tokens: int = 0  # estimated, rounded up (see estimate_input_tokens)
    has_tools: bool = False  # tools offered, or tool calls and results in the conversation
    has_images: bool = False
    budget: BudgetView | None = None  # the tenant's and caller's limits, when any apply
    operation: Operation = "chat"

    def summary(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "residency": self.residency,
            "privacy_tags": list(self.privacy_tags),
            "task_classes": list(self.task_classes),
            "model": self.model,
            "stream": self.stream,
            "input_chars": self.input_chars,
            "input_tokens": self.input_tokens,
            "has_tools": self.has_tools,
            "has_images": self.has_images,
            "protocol": self.protocol,
        }


class InputMeasure(NamedTuple):
    chars: int  # text characters: system prompts, messages, tool-call arguments and results
    images: int
    tools: bool


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
    tags = _name_list(headers.get(TAGS_HEADER, ""), _TAG, "X-Privacy-Tags", "tags such as pii,phi")
    if len(tags) > _MAX_TAGS:
        raise BadRequest(f"X-Privacy-Tags has more than {_MAX_TAGS} tags", param="X-Privacy-Tags")
    # A comma list, as repeated headers combine: every class named applies, and the
    # policy takes the highest floor among them and the tenant's.
    classes = _name_list(
        headers.get(TASK_CLASS_HEADER, ""), _TAG, "X-Task-Class", "task classes such as analysis"
    )
    if len(classes) > _MAX_TASK_CLASSES:
        raise BadRequest(
            f"X-Task-Class names more than {_MAX_TASK_CLASSES} task classes", param="X-Task-Class"
        )
    return RoutingHeaders(tenant, residency, tuple(sorted(tags)), tuple(sorted(classes)))


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


def _name_list(value: str, pattern: re.Pattern[str], header: str, example: str) -> set[str]:
    names: set[str] = set()
    for raw in value.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if not pattern.fullmatch(name):
            raise BadRequest(f"{header} must be a comma list of {example}", param=header)
        names.add(name)
    return names


def measure_input(request: ChatRequest) -> InputMeasure:
    chars = sum(len(s) for s in request.system)
    images = 0
    tools = bool(request.tools)
    for message in request.messages:
        for part in message.content:
            if isinstance(part, ImagePart):
                images += 1
            else:
                chars += len(part.text)
        for call in message.tool_calls:
            tools = True
            chars += len(call.arguments)
        if message.tool_result is not None:
            tools = True
            for part in message.tool_result.content:
                if isinstance(part, ImagePart):
                    images += 1
                else:
                    chars += len(part.text)
    return InputMeasure(chars, images, tools)


def estimate_input_tokens(chars: int, images: int) -> int:
    """About four characters a token, plus each image; rounded up to an eighth of the
    estimate's power of two (at most 12.5% more), so that decisions that depend on it
    stay cacheable: about eight distinct values per doubling, instead of one per length."""
    tokens = -(-chars // 4) + images * TOKENS_PER_IMAGE
    if tokens <= 0:
        return 0
    step = max(64, 1 << max(0, tokens.bit_length() - 4))
    return -(-tokens // step) * step


def routing_context(
    headers: RoutingHeaders,
    request: ChatRequest,
    protocol: str,
    budget: BudgetView | None = None,
    operation: Operation = "chat",
) -> RoutingContext:
    measure = measure_input(request)
    return RoutingContext(
        tenant=headers.tenant,
        residency=headers.residency,
        privacy_tags=headers.privacy_tags,
        model=request.model,
        stream=request.stream,
        input_chars=measure.chars,
        protocol=protocol,
        task_classes=headers.task_classes,
        input_tokens=estimate_input_tokens(measure.chars, measure.images),
        has_tools=measure.tools,
        has_images=measure.images > 0,
        budget=budget,
        operation=operation,
    )


def embedding_context(
    headers: RoutingHeaders, request: EmbeddingRequest, budget: BudgetView | None = None
) -> RoutingContext:
    """An embeddings request's context: each input is embedded on its own, so
    `input_tokens` is the longest input's estimate (what a model's window must hold),
    while `input_chars` counts them all (what limits and budgets count)."""
    longest = max(map(len, request.inputs), default=0)
    return RoutingContext(
        tenant=headers.tenant,
        residency=headers.residency,
        privacy_tags=headers.privacy_tags,
        model=request.model,
        stream=False,
        input_chars=sum(map(len, request.inputs)),
        protocol="openai",
        task_classes=headers.task_classes,
        input_tokens=estimate_input_tokens(longest, 0),
        budget=budget,
        operation="embeddings",
    )


def provider_catalog(settings: Settings) -> dict[str, Any]:
    """The providers as the policy sees them: built once, part of every policy input.

    `model_attributes` holds, per alias a provider serves, the facts about the model it
    maps to, always with the model's identity (`model`).
    """
    return {
        p.id: {
            "adapter": p.adapter,
            "models": sorted(p.models),
            "attributes": p.attributes.model_dump(exclude_none=True),
            "model_attributes": {
                alias: {
                    **p.model_facts(model).model_dump(exclude_none=True),
                    "model": p.model_facts(model).model or model,
                }
                for alias, model in sorted(p.models.items())
            },
        }
        for p in settings.providers
    }


def policy_input(context: RoutingContext, catalog: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "tenant": context.tenant,
        "request": {
            "residency": context.residency,
            "privacy_tags": list(context.privacy_tags),
            "task_classes": list(context.task_classes),
            "model": context.model,
            "stream": context.stream,
            "input_chars": context.input_chars,
            "input_tokens": context.input_tokens,
            "has_tools": context.has_tools,
            "has_images": context.has_images,
            "protocol": context.protocol,
            "operation": context.operation,
        },
        "budget": (context.budget or NO_BUDGET).policy_input(),
        "providers": catalog,
    }
