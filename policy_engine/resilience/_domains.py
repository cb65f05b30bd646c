"""Failure domains of a set of providers and the availability they add up to.

A failure domain is a (cloud, region) pair, the same unit the router uses to spread
retries (`Candidate.failure_domain`): providers that share one go down together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policy_engine._config import ProviderConfig


@dataclass(frozen=True, slots=True)
class FailureDomain:
    cloud: str | None
    region: str | None
    providers: tuple[str, ...]
    # None when any member does not state an SLA: the domain could be better or worse.
    availability: float | None

    @property
    def name(self) -> str:
        if self.cloud is None or self.region is None:
            # Without a location we cannot show the provider shares fate with another,
            # nor that it does not; it is its own domain, and the name says so.
            return f"{self.providers[0]} (location unknown)"
        return f"{self.cloud}/{self.region}"


def failure_domains(providers: Sequence[ProviderConfig]) -> list[FailureDomain]:
    """Group providers by (cloud, region); a provider without both is its own domain."""
    groups: dict[tuple[str, str], list[ProviderConfig]] = {}
    for provider in providers:
        cloud, region = provider.attributes.cloud, provider.attributes.region
        key = (cloud, region) if cloud and region else ("", provider.id)
        groups.setdefault(key, []).append(provider)
    domains = []
    for (cloud, region), members in sorted(groups.items()):
        slas = [p.attributes.sla for p in members]
        known = [sla for sla in slas if sla is not None]
        domains.append(
            FailureDomain(
                cloud=cloud or None,
                region=region if cloud else None,
                providers=tuple(sorted(p.id for p in members)),
                # Members of one domain fail together, so the best of them is what the
                # domain offers; fallback inside it cannot beat a regional outage.
                availability=max(known) if known and len(known) == len(slas) else None,
            )
        )
    return domains


def combined_availability(domains: Sequence[FailureDomain]) -> float | None:
    """A = 1 - prod(1 - a): independent domains are all down only together. None if unknown."""
    if not domains:
        return 0.0
    unavailable = 1.0
    for domain in domains:
        if domain.availability is None:
            return None
        unavailable *= 1.0 - domain.availability
    return 1.0 - unavailable


def percent(availability: float | None) -> str:
    """`99.9999%`: as many digits as the estimate has nines, up to eight decimals."""
    if availability is None:
        return "unknown"
    text = f"{availability * 100:.8f}".rstrip("0").rstrip(".")
    if text == "100" and availability < 1.0:
        # More nines than we print; "100%" would claim a provider set that never fails.
        return ">99.99999999%"
    return text + "%"
