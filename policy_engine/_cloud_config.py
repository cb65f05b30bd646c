"""Bedrock and Vertex AI providers in the config: what their options imply (the region's
endpoint, `attributes.region` and `cloud`, each inference profile's geography) and what
is refused because the policy would misjudge where data goes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from adapters import inference_geography

if TYPE_CHECKING:
    from policy_engine._config import ProviderConfig

# Cloud adapters: their options, the endpoint each region has, and the facts the policy
# sees without being told (`attributes.region`, `cloud`; a Bedrock inference profile's
# geography as the model attribute `inference_geography`).
_AWS_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]{1,2}$")
_GCP_REGION = re.compile(r"^(global|[a-z]+-[a-z]+[0-9]{1,2})$")
_GCP_PROJECT = re.compile(r"^([a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_VERTEX_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
_OPTIONS = {
    "bedrock": ({"region"}, {"profile"}),
    "vertex": ({"region", "project"}, {"credentials_file"}),
}
_CLOUDS = {"bedrock": "aws", "vertex": "gcp"}


def _cloud_endpoint(adapter: str, region: str) -> str:
    if adapter == "bedrock":
        return f"https://bedrock-runtime.{region}.amazonaws.com"
    if region == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{region}-aiplatform.googleapis.com"


def cloud_defaults(data: dict[str, Any]) -> None:
    """What a cloud provider's entry says without writing it: its regional endpoint,
    its region and cloud as attributes, each inference profile's geography."""
    adapter = data.get("adapter")
    if adapter not in _CLOUDS:
        return
    options = data.get("options")
    region = options.get("region") if isinstance(options, dict) else None
    pattern = _AWS_REGION if adapter == "bedrock" else _GCP_REGION
    if not isinstance(region, str):
        # Reported here: without a region there is no endpoint to default base_url to.
        raise ValueError(f"{adapter} needs options.region")
    if not pattern.fullmatch(region):
        raise ValueError(f"options.region {region!r} is not a region name")
    if "base_url" not in data:
        data["base_url"] = _cloud_endpoint(adapter, region)
    attributes = data.get("attributes")
    if attributes is None or isinstance(attributes, dict):
        data["attributes"] = {"region": region, "cloud": _CLOUDS[adapter], **(attributes or {})}
    facts = data.get("model_attributes")
    models = data.get("models")
    if adapter != "bedrock" or not isinstance(models, dict):
        return
    if facts is not None and not isinstance(facts, dict):
        return
    facts = dict(facts or {})
    for model in models.values():
        geography = inference_geography(model) if isinstance(model, str) else None
        entry = facts.get(model)
        if geography is not None and (entry is None or isinstance(entry, dict)):
            facts[model] = {"inference_geography": geography, **(entry or {})}
    data["model_attributes"] = facts


CLOUD_ADAPTERS = frozenset(_CLOUDS)


def check_cloud_provider(provider: ProviderConfig) -> None:
    """Refuse what would let the policy misjudge where a cloud provider sends data."""
    required, optional = _OPTIONS[provider.adapter]
    missing = sorted(required - set(provider.options))
    if missing:
        raise ValueError(f"{provider.adapter} needs options.{', options.'.join(missing)}")
    unknown = sorted(set(provider.options) - required - optional)
    if unknown:
        known = ", ".join(sorted(required | optional))
        raise ValueError(f"{provider.adapter} takes options {known}, not {', '.join(unknown)}")
    region = provider.options["region"]  # its form is checked before (`_cloud_defaults`)
    if provider.attributes.region != region:
        raise ValueError(
            f"attributes.region says {provider.attributes.region!r}, but the adapter calls "
            f"region {region!r}: the policy must see where requests go"
        )
    if provider.adapter == "vertex":
        _vertex(provider)
    else:
        _bedrock(provider)


def _vertex(provider: ProviderConfig) -> None:
    if provider.api_key_env or provider.api_key_file:
        raise ValueError("vertex authenticates with Google credentials, not api_key_*")
    if not _GCP_PROJECT.fullmatch(provider.options["project"]):
        raise ValueError(f"options.project {provider.options['project']!r} is not a project id")
    for model in provider.models.values():
        if not _VERTEX_MODEL.fullmatch(model):
            raise ValueError(f"models: {model!r} is not a Vertex AI model name")
    if provider.options["region"] == "global" and provider.attributes.residency is not None:
        raise ValueError(
            f"attributes.residency is {provider.attributes.residency!r}, but the global "
            "endpoint may process a request in any region: name a regional one"
        )


def _bedrock(provider: ProviderConfig) -> None:
    for model in provider.models.values():
        stated = getattr(provider.model_facts(model), "inference_geography", None)
        if stated != inference_geography(model):
            raise ValueError(
                f"model_attributes.{model}.inference_geography says {stated!r}, but "
                f"the model id says {inference_geography(model)!r}"
            )
    residency = provider.attributes.residency
    if residency is None:
        return
    for model in provider.models.values():
        geography = inference_geography(model)
        # us-gov profiles stay in the US (GovCloud); every other geography is its own.
        where = "us" if geography == "us-gov" else geography
        if where is not None and where != residency.strip().lower():
            raise ValueError(
                f"models: {model!r} is a {geography} inference profile, which may "
                f"process a request anywhere in {geography}, but attributes.residency "
                f"is {residency!r}"
            )
