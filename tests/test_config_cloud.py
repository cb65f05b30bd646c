"""Bedrock and Vertex AI providers in the config: the region's endpoint and facts follow
from the options, and what would let the policy misjudge where data goes is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters import AwsCredentials, GoogleCredentials
from policy_engine._config import load_config, parse_config, resolve_cloud_credentials
from policy_engine._context import provider_catalog
from policy_engine._errors import ConfigError

EU_PROFILE = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"


def bedrock(**fields: Any) -> dict[str, Any]:
    return {
        "id": "bedrock-eu",
        "adapter": "bedrock",
        "options": {"region": "eu-central-1"},
        "models": {"default": EU_PROFILE},
        "attributes": {"residency": "eu"},
    } | fields


def vertex(**fields: Any) -> dict[str, Any]:
    return {
        "id": "vertex-eu",
        "adapter": "vertex",
        "options": {"region": "europe-west1", "project": "acme-llm"},
        "models": {"default": "claude-sonnet-4-5@20250929", "gemini": "gemini-2.5-pro"},
        "attributes": {"residency": "eu"},
    } | fields


def config(*providers: dict[str, Any]) -> dict[str, Any]:
    return {
        "providers": list(providers),
        "audit": {"dir": "/var/audit", "signing_key_file": "/etc/keys/audit.pem"},
    }


def refusal(*providers: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_config(config(*providers))
    return raised.value.message


def test_a_bedrock_provider_calls_its_regions_endpoint_and_says_where_it_runs() -> None:
    (provider,) = parse_config(config(bedrock())).providers
    assert provider.base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    assert (provider.attributes.region, provider.attributes.cloud) == ("eu-central-1", "aws")


def test_the_policy_sees_an_inference_profiles_geography() -> None:
    catalog = provider_catalog(parse_config(config(bedrock())))
    assert catalog["bedrock-eu"]["model_attributes"]["default"]["inference_geography"] == "eu"
    assert catalog["bedrock-eu"]["attributes"]["region"] == "eu-central-1"


def test_a_model_in_the_providers_own_region_has_no_geography() -> None:
    entry = bedrock(models={"default": "anthropic.claude-3-haiku-20240307-v1:0"})
    catalog = provider_catalog(parse_config(config(entry)))
    assert "inference_geography" not in catalog["bedrock-eu"]["model_attributes"]["default"]


@pytest.mark.parametrize(
    ("region", "endpoint"),
    [
        ("europe-west1", "https://europe-west1-aiplatform.googleapis.com"),
        ("global", "https://aiplatform.googleapis.com"),
    ],
)
def test_a_vertex_provider_calls_its_regions_endpoint(region: str, endpoint: str) -> None:
    entry = vertex(options={"region": region, "project": "acme-llm"}, attributes={})
    (provider,) = parse_config(config(entry)).providers
    assert provider.base_url == endpoint
    assert (provider.attributes.region, provider.attributes.cloud) == (region, "gcp")


def test_base_url_overrides_the_regions_endpoint() -> None:
    (provider,) = parse_config(config(bedrock(base_url="https://vpce-1.example/"))).providers
    assert provider.base_url == "https://vpce-1.example"


# a provider entry, a phrase of the error that refuses it
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "bedrock without a region": (bedrock(options={}), "bedrock needs options.region"),
    "an option bedrock does not take": (
        bedrock(options={"region": "eu-central-1", "project": "x"}),
        "bedrock takes options profile, region, not project",
    ),
    "a region that is no region": (
        bedrock(options={"region": "eu-central-1/../x"}),
        "is not a region name",
    ),
    "attributes naming another region": (
        bedrock(attributes={"residency": "eu", "region": "eu-west-1"}),
        "the adapter calls region 'eu-central-1'",
    ),
    "a us profile under eu residency": (
        bedrock(models={"default": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"}),
        "is a us inference profile",
    ),
    "a global profile under eu residency": (
        bedrock(models={"default": "global.anthropic.claude-sonnet-4-5-20250929-v1:0"}),
        "is a global inference profile",
    ),
    "a profile arn outside the residency": (
        bedrock(
            models={
                "default": "arn:aws:bedrock:eu-central-1:123456789012:inference-profile/"
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
            }
        ),
        "is a us inference profile",
    ),
    "a stated geography the model id contradicts": (
        bedrock(model_attributes={EU_PROFILE: {"inference_geography": "us"}}),
        "the model id says 'eu'",
    ),
    "vertex without its project": (
        vertex(options={"region": "europe-west1"}),
        "vertex needs options.project",
    ),
    "a project id that is no project id": (
        vertex(options={"region": "europe-west1", "project": "a/../b"}),
        "is not a project id",
    ),
    "a vertex model that would leave its url path": (
        vertex(models={"default": "gemini-2.5-pro:generateContent?x=1"}),
        "is not a Vertex AI model name",
    ),
    "vertex's global endpoint under a residency": (
        vertex(options={"region": "global", "project": "acme-llm"}),
        "the global endpoint may process a request in any region",
    ),
    "an api key for vertex": (
        vertex(api_key_env="VERTEX_KEY"),
        "vertex authenticates with Google credentials",
    ),
}


@pytest.mark.parametrize(("entry", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_what_would_mislead_the_policy_is_refused_at_startup(
    entry: dict[str, Any], message: str
) -> None:
    assert message in refusal(entry)


def test_a_us_gov_profile_counts_as_us_residency() -> None:
    entry = bedrock(
        options={"region": "us-gov-west-1"},
        models={"default": "us-gov.anthropic.claude-3-haiku-20240307-v1:0"},
        attributes={"residency": "us"},
    )
    assert parse_config(config(entry)).providers[0].attributes.region == "us-gov-west-1"


def test_the_credentials_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    raw = config(
        vertex(
            options={
                "region": "europe-west1",
                "project": "acme-llm",
                "credentials_file": "keys/sa.json",
            }
        )
    )
    path = tmp_path / "etc" / "policy-engine.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(raw))
    options = load_config(path).providers[0].options
    assert options["credentials_file"] == str(tmp_path / "etc" / "keys" / "sa.json")


def test_each_cloud_provider_gets_its_clouds_credentials_and_a_keyed_one_none() -> None:
    keyed = bedrock(id="bedrock-keyed", api_key_env="BEDROCK_API_KEY")
    profiled = bedrock(options={"region": "eu-central-1", "profile": "prod"})
    settings = parse_config(config(profiled, keyed, vertex()))
    holders = resolve_cloud_credentials(settings)
    assert set(holders) == {"bedrock-eu", "vertex-eu"}
    assert isinstance(holders["bedrock-eu"], AwsCredentials)
    assert holders["bedrock-eu"].region == "eu-central-1"
    assert isinstance(holders["vertex-eu"], GoogleCredentials)
    assert [p.cloud_signed for p in settings.providers] == [True, False, True]
