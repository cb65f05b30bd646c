"""Failure domains and the availability estimate."""

from __future__ import annotations

import pytest

from policy_engine._config import ProviderConfig
from policy_engine.resilience import combined_availability, failure_domains, percent


def provider(
    pid: str, cloud: str | None = "aws", region: str | None = "eu-west-1", sla: float | None = 0.99
) -> ProviderConfig:
    attributes = {"cloud": cloud, "region": region, "sla": sla}
    return ProviderConfig.model_validate(
        {
            "id": pid,
            "adapter": "openai",
            "base_url": "http://127.0.0.1:9/v1",
            "models": {"default": "m"},
            "attributes": {k: v for k, v in attributes.items() if v is not None},
        }
    )


def test_two_independent_domains_at_99_percent_give_99_99_percent() -> None:
    domains = failure_domains([provider("a", "aws"), provider("b", "gcp")])
    assert combined_availability(domains) == pytest.approx(0.9999, abs=1e-12)


def test_providers_in_the_same_cloud_region_are_one_domain() -> None:
    domains = failure_domains([provider("a"), provider("b")])
    assert [d.providers for d in domains] == [("a", "b")]


def test_a_shared_domain_is_as_available_as_its_best_member() -> None:
    domains = failure_domains([provider("a", sla=0.95), provider("b", sla=0.99)])
    assert combined_availability(domains) == pytest.approx(0.99)


def test_same_region_name_in_two_clouds_is_two_domains() -> None:
    domains = failure_domains([provider("a", "aws", "eu"), provider("b", "gcp", "eu")])
    assert len(domains) == 2


def test_a_provider_without_a_location_is_its_own_domain() -> None:
    domains = failure_domains([provider("a", region=None), provider("b", region=None)])
    assert [d.name for d in domains] == ["a (location unknown)", "b (location unknown)"]


def test_a_missing_sla_makes_the_estimate_unknown() -> None:
    domains = failure_domains([provider("a", "aws"), provider("b", "gcp", sla=None)])
    assert combined_availability(domains) is None


def test_a_missing_sla_in_a_shared_domain_makes_that_domain_unknown() -> None:
    domains = failure_domains([provider("a", sla=0.99), provider("b", sla=None)])
    assert domains[0].availability is None


def test_no_domain_means_no_availability() -> None:
    assert combined_availability([]) == 0.0


def test_percent_shows_every_nine_of_the_estimate() -> None:
    assert percent(0.9999) == "99.99%"
    assert percent(0.99) == "99%"
    assert percent(None) == "unknown"


def test_percent_never_rounds_an_estimate_up_to_100_percent() -> None:
    assert percent(1 - 1e-12) == ">99.99999999%"
    assert percent(1.0) == "100%"
