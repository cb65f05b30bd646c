"""The one YAML config file, validated at startup, and the only place that reads the environment."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from phonenumbers import SUPPORTED_REGIONS
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from adapters import ADAPTER_NAMES, CloudCredentials
from policy_engine._auth import CallerToken, token_digest
from policy_engine._cloud_config import CLOUD_ADAPTERS, check_cloud_provider, cloud_defaults
from policy_engine._config_embeddings import EmbeddingAlias, check_embedding_aliases
from policy_engine._errors import ConfigError
from policy_engine.audit import AuditSettings, ShippingSettings
from policy_engine.fleet import FleetSettings
from policy_engine.redaction import DEFAULT_PHONE_REGIONS
from policy_engine.telemetry import TracingSettings

ProviderId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderAttributes(BaseModel):
    """Compliance and cost facts about a provider; the policy sees all of them.

    The named fields are the ones our shipped policies and the router read; any other
    key is passed to the policy unchanged, so policy authors can add their own facts.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    residency: str | None = Field(
        None, description="Where the provider processes data: eu, us, uk, ..."
    )
    region: str | None = Field(None, description="Cloud region, e.g. eu-west-1; a failure domain")
    cloud: str | None = Field(None, description="Cloud or operator, e.g. aws, azure, gcp, onprem")
    certifications: list[str] = Field(default_factory=list, description="e.g. hipaa_baa, soc2")
    zero_data_retention: bool = False
    self_hosted: bool = False
    price_per_1m_input: float | None = Field(None, ge=0)
    price_per_1m_output: float | None = Field(None, ge=0)
    sla: float | None = Field(None, gt=0, le=1, description="Availability, e.g. 0.999")
    cost_per_month: float | None = Field(
        None, ge=0, description="Fixed monthly cost in USD (a self-hosted model's GPUs)"
    )


class ModelAttributes(BaseModel):
    """Facts about one provider model; the policy sees them under the aliases it serves.

    A fact left out is not checked (no context window stated: no window check), except
    `quality`, which a task class's floor requires. Any other key is passed on as is.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str | None = Field(
        None,
        pattern=r"^[\x21-\x7e]{1,128}$",
        description="The model's identity on every provider (default: the provider model "
        "name); the same model on another provider is preferred after a failure",
    )
    quality: float | None = Field(
        None, ge=0, le=100, description="Quality score 0-100, e.g. MMLU; one decimal at most"
    )
    context_window: int | None = Field(None, gt=0, description="Input tokens the model takes")
    dimensions: int | None = Field(
        None,
        gt=0,
        le=65536,
        description="An embedding model's vector length: an answer of another length (a "
        "deployment serving another model) is refused as malformed",
    )
    tools: bool | None = Field(None, description="Supports tool use")
    vision: bool | None = Field(None, description="Accepts images")
    price_per_1m_input: float | None = Field(None, ge=0, description="Overrides the provider's")
    price_per_1m_output: float | None = Field(None, ge=0, description="Overrides the provider's")

    @field_validator("quality")
    @classmethod
    def _one_decimal(cls, value: float | None) -> float | None:
        # Reasons print scores to one decimal; a finer score would print as its floor.
        if value is not None and round(value, 1) != value:
            raise ValueError("a quality score has at most one decimal, e.g. 88.7")
        return value


_NO_FACTS = ModelAttributes()
_HEADER_SAFE = re.compile(r"[\x21-\x7e]{1,256}")


class ProxySettings(_Strict):
    """An HTTP proxy that provider traffic goes through (CONNECT for https:// providers)."""

    url: str = Field(description="http://host:port; credentials never here")
    credentials_env: str | None = Field(
        None, description="Environment variable holding the proxy's user:password"
    )
    credentials_file: Path | None = Field(
        None, description="File holding the proxy's user:password (a mounted secret)"
    )

    @field_validator("url")
    @classmethod
    def _proxy_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "http" or not parts.hostname:
            # TLS to the proxy itself is not supported; the tunnel it opens carries the
            # provider's own TLS end to end.
            raise ValueError("must be an http:// URL with a host (the tunnel carries TLS)")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use credentials_env or credentials_file")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("must be http://host:port, without a path")
        _ = parts.port  # raises ValueError for a port that is not a number in range
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_credential_source(self) -> ProxySettings:
        if self.credentials_env and self.credentials_file:
            raise ValueError("set credentials_env or credentials_file, not both")
        return self


def _proxy_shorthand(value: Any) -> Any:
    """`proxy: http://host:port` stands for `proxy: {url: http://host:port}`."""
    if isinstance(value, str) and value != "direct":
        return {"url": value}
    return value


# A provider's or the global proxy: unset (the environment's, or the global one for a
# provider), a proxy, or "direct" (no proxy whatever the environment says).
ProxyChoice = Annotated[ProxySettings | Literal["direct"] | None, BeforeValidator(_proxy_shorthand)]


class ProviderConfig(_Strict):
    id: ProviderId
    adapter: str = Field(description=f"One of: {', '.join(ADAPTER_NAMES)}")
    base_url: str = Field(description="bedrock, vertex: the region's endpoint when unset")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key")
    api_key_file: Path | None = Field(
        None, description="File holding the API key (a mounted secret)"
    )
    models: dict[str, str] = Field(
        description="Logical alias -> provider model; 'default' required"
    )
    options: dict[str, str] = Field(
        default_factory=dict,
        description="Adapter options: azure_openai api_version; bedrock region, profile; "
        "vertex region, project, credentials_file",
    )
    priority: int = Field(100, description="Lower is tried first under the priority strategy")
    attributes: ProviderAttributes = Field(default_factory=ProviderAttributes)
    model_attributes: dict[str, ModelAttributes] = Field(
        default_factory=dict, description="Provider model (a value of models) -> its facts"
    )
    proxy: ProxyChoice = Field(
        None, description="This provider's egress proxy, or direct; unset: routing.proxy"
    )
    ca_bundle: Path | None = Field(
        None, description="PEM file of the CAs trusted for this provider; unset: routing.ca_bundle"
    )

    @model_validator(mode="before")
    @classmethod
    def _cloud_entry(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            cloud_defaults(data)
        return data

    @field_validator("adapter")
    @classmethod
    def _known_adapter(cls, value: str) -> str:
        if value not in ADAPTER_NAMES:
            raise ValueError(
                f"unknown adapter {value!r}; expected one of {', '.join(ADAPTER_NAMES)}"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; use api_key_env or api_key_file")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("models")
    @classmethod
    def _has_default_alias(cls, value: dict[str, str]) -> dict[str, str]:
        if "default" not in value:
            raise ValueError("must map the alias 'default'")
        return value

    @model_validator(mode="after")
    def _adapter_options(self) -> ProviderConfig:
        if self.adapter == "azure_openai" and "api_version" not in self.options:
            raise ValueError("azure_openai needs options.api_version")
        if self.api_key_env and self.api_key_file:
            raise ValueError("set api_key_env or api_key_file, not both")
        if self.adapter in CLOUD_ADAPTERS:
            check_cloud_provider(self)
        return self

    @model_validator(mode="after")
    def _model_names(self) -> ProviderConfig:
        # A model's name goes back to clients in X-Routed-Model: an HTTP header value.
        for name in self.models.values():
            if not _HEADER_SAFE.fullmatch(name):
                raise ValueError(
                    f"models: provider model names are 1-256 visible ASCII characters, not {name!r}"
                )
        served = set(self.models.values())
        stray = sorted(set(self.model_attributes) - served)
        if stray:
            raise ValueError(
                f"model_attributes names {', '.join(map(repr, stray))}, which models does not "
                f"map any alias to (it serves {', '.join(map(repr, sorted(served)))})"
            )
        return self

    def model_facts(self, model: str) -> ModelAttributes:
        return self.model_attributes.get(model) or _NO_FACTS

    @property
    def cloud_signed(self) -> bool:
        """Authenticated with the cloud's own credentials (botocore's chain, google-auth's)
        rather than an API key."""
        if self.adapter == "bedrock":
            return not (self.api_key_env or self.api_key_file)
        return self.adapter == "vertex"

    def price(self, model: str) -> tuple[float, float] | None:
        """USD per million input and output tokens for `model`: its own, else the provider's."""
        facts, attributes = self.model_facts(model), self.attributes
        price_in = facts.price_per_1m_input
        price_out = facts.price_per_1m_output
        if price_in is None:
            price_in = attributes.price_per_1m_input
        if price_out is None:
            price_out = attributes.price_per_1m_output
        if price_in is None or price_out is None:
            return None
        return price_in, price_out


class CallerTokenConfig(_Strict):
    """One caller credential; the token itself never sits in the config file."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Label for logs and audit")
    token_env: str | None = Field(None, description="Environment variable holding the token")
    token_file: Path | None = Field(None, description="File holding the token (a mounted secret)")
    token_sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the token"
    )
    tenants: list[str] = Field(default_factory=list, description="Bound tenants; empty = any")

    @model_validator(mode="after")
    def _one_source(self) -> CallerTokenConfig:
        sources = [self.token_env, self.token_file, self.token_sha256]
        if sum(s is not None for s in sources) != 1:
            raise ValueError("set exactly one of token_env, token_file, token_sha256")
        return self


class AuthSettings(_Strict):
    tokens: list[CallerTokenConfig] = Field(default_factory=list)
    allow_unauthenticated: bool = Field(
        False, description="Required to listen beyond loopback without tokens"
    )


_LOOPBACK = ("127.0.0.1", "::1", "localhost")


class ServerSettings(_Strict):
    host: str = Field(
        "127.0.0.1", description="Loopback by default: the app beside us is the only caller"
    )
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0)
    max_connections: int = Field(
        1024, gt=0, description="Open client connections; past it a new one gets a 503"
    )
    max_header_bytes: int = Field(64 * 1024, gt=0, description="A request's head; past it, 431")
    header_timeout_s: float = Field(
        10, gt=0, description="A request's head must arrive within this; else 408, closed"
    )
    body_timeout_s: float = Field(
        30, gt=0, description="A request's body must arrive within this; else 408, audited"
    )
    keep_alive_s: float = Field(5, gt=0, description="An idle connection closes after this")
    auth: AuthSettings = Field(default_factory=AuthSettings)

    @model_validator(mode="after")
    def _no_open_door(self) -> ServerSettings:
        if (
            self.host not in _LOOPBACK
            and not self.auth.tokens
            and not self.auth.allow_unauthenticated
        ):
            raise ValueError(
                f"listening on {self.host} needs auth.tokens "
                "(or auth.allow_unauthenticated: true if the network already restricts callers)"
            )
        return self


class PolicySettings(_Strict):
    opa_url: str | None = Field(None, description="OPA server; unset = embedded regopy engine")
    policy_dir: Path = Field(
        Path("policies"), description="Rego + data/*.json for the embedded engine"
    )
    entrypoint: str = Field("router/decision", pattern=r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$")
    timeout_ms: float = Field(250, gt=0)
    cache_size: int = Field(
        4096, ge=0, description="Embedded engine: cached decisions per revision (0 = off)"
    )


class RoutingSettings(_Strict):
    strategy: Literal["priority", "price", "latency"] = "priority"
    deadline_s: float = Field(60, gt=0, description="Whole request, all attempts included")
    connect_timeout_s: float = Field(2, gt=0)
    first_byte_timeout_s: float = Field(30, gt=0)
    attempt_timeout_s: float = Field(60, gt=0)
    attempts_per_provider: int = Field(2, ge=1, le=10)
    backoff_base_s: float = Field(0.1, ge=0)
    backoff_max_s: float = Field(2, ge=0)
    circuit_failure_threshold: int = Field(5, ge=1)
    circuit_open_s: float = Field(30, gt=0)
    max_answer_bytes: int = Field(
        32 * 1024 * 1024, gt=0, description="One provider answer, streamed or not"
    )
    max_buffered_answer_bytes: int = Field(
        32 * 1024 * 1024,
        gt=0,
        description="Provider-answer bytes held in memory at once, all requests together; "
        "an attempt that would pass it fails as overloaded and the request falls back. "
        "Memory for answers peaks at about six times this (decoded, then encoded again)",
    )

    proxy: ProxyChoice = Field(
        None,
        description="Egress proxy for every provider without its own; unset: HTTPS_PROXY / "
        "HTTP_PROXY from the environment; direct: none",
    )
    no_proxy: list[str] | None = Field(
        None,
        description="Hosts reached without routing.proxy (or the environment's): names, "
        ".suffixes, IPs, CIDRs, host:port, *; unset: NO_PROXY from the environment",
    )
    ca_bundle: Path | None = Field(
        None, description="PEM file of the CAs trusted for providers; unset: the system store"
    )

    @model_validator(mode="after")
    def _one_answer_fits(self) -> RoutingSettings:
        if self.max_answer_bytes > self.max_buffered_answer_bytes:
            raise ValueError("max_answer_bytes must not exceed max_buffered_answer_bytes")
        return self


class RedactionSettings(_Strict):
    ner: bool = Field(False, description="Detect PERSON and LOCATION (needs the ner extra)")
    undetectable: Literal["fail_closed", "record"] = Field(
        "fail_closed",
        description="When the policy asks to redact a type no detector finds: skip that "
        "provider (fail_closed), or send and record the gap in the audit record (record)",
    )
    detection_cache_entries: int = Field(
        4096,
        ge=0,
        description="Texts whose detected spans are kept across requests, so a conversation's "
        "earlier messages and a repeated system prompt are not scanned again each turn; "
        "a text is kept from its second sighting, keyed by its hash, never the text "
        "(0 turns it off)",
    )
    phone_regions: tuple[str, ...] = Field(
        DEFAULT_PHONE_REGIONS,
        description="Regions (ISO 3166 codes) whose national phone number formats are "
        "detected; a number written with its international prefix is detected for every "
        "country",
    )

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        regions = tuple(region.upper() for region in value)
        unknown = [region for region in regions if region not in SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown phone regions {unknown}: use ISO 3166 codes such as 'US'")
        return regions


class StageSettings(_Strict):
    """Switches that exist only to measure what each stage costs (`make bench`).

    Turning one off breaks the promises in DESIGN.md (PII reaches providers, requests
    go unaudited); the sidecar logs an error at startup when one is off.
    """

    redaction: bool = True
    audit: bool = True


class LoggingSettings(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    tracing: TracingSettings = Field(default_factory=TracingSettings)


class Settings(_Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    stages: StageSettings = Field(default_factory=StageSettings)
    providers: list[ProviderConfig] = Field(min_length=1)
    audit: AuditSettings
    fleet: FleetSettings = Field(default_factory=FleetSettings)
    shipping: ShippingSettings | None = None
    embeddings: dict[str, EmbeddingAlias] = Field(
        default_factory=dict,
        description="Embedding aliases (POST /v1/embeddings), each one model's vector space",
    )

    @field_validator("providers")
    @classmethod
    def _unique_ids(cls, value: list[ProviderConfig]) -> list[ProviderConfig]:
        seen: set[str] = set()
        for provider in value:
            if provider.id in seen:
                raise ValueError(f"duplicate provider id {provider.id!r}")
            seen.add(provider.id)
        return value

    @model_validator(mode="after")
    def _embedding_aliases(self) -> Settings:
        check_embedding_aliases(self.embeddings, self.providers)
        return self

    def provider(self, provider_id: str) -> ProviderConfig:
        for provider in self.providers:
            if provider.id == provider_id:
                return provider
        raise KeyError(provider_id)


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Relative paths in the file are relative to the file, not to the working directory."""
    policy = raw.get("policy")
    if isinstance(policy, dict) and isinstance(policy.get("policy_dir"), str):
        policy["policy_dir"] = str((base / policy["policy_dir"]).resolve())
    audit = raw.get("audit")
    if isinstance(audit, dict):
        for key in ("dir", "signing_key_file"):
            if isinstance(audit.get(key), str):
                audit[key] = str((base / audit[key]).resolve())
    fleet = raw.get("fleet")
    redis = fleet.get("redis") if isinstance(fleet, dict) else None
    if isinstance(redis, dict) and isinstance(redis.get("password_file"), str):
        redis["password_file"] = str((base / redis["password_file"]).resolve())
    routing = raw.get("routing")
    for section in [routing, *(raw.get("providers") or [])]:
        if not isinstance(section, dict):
            continue
        for key in ("api_key_file", "ca_bundle"):
            if isinstance(section.get(key), str):
                section[key] = str((base / section[key]).resolve())
        proxy = section.get("proxy")
        if isinstance(proxy, dict) and isinstance(proxy.get("credentials_file"), str):
            proxy["credentials_file"] = str((base / proxy["credentials_file"]).resolve())
        options = section.get("options")
        if isinstance(options, dict) and isinstance(options.get("credentials_file"), str):
            options["credentials_file"] = str((base / options["credentials_file"]).resolve())
    server = raw.get("server")
    auth = server.get("auth") if isinstance(server, dict) else None
    for token in (auth.get("tokens") if isinstance(auth, dict) else None) or []:
        if isinstance(token, dict) and isinstance(token.get("token_file"), str):
            token["token_file"] = str((base / token["token_file"]).resolve())


def _expand_replica(raw: dict[str, Any]) -> None:
    """`{replica}` in audit.origin becomes this replica's name: one config file for a
    fleet, one log origin per replica (a witness tells logs apart by origin)."""
    audit = raw.get("audit")
    origin = audit.get("origin") if isinstance(audit, dict) else None
    if isinstance(audit, dict) and isinstance(origin, str) and "{replica}" in origin:
        fleet = raw.get("fleet")
        configured = fleet.get("replica") if isinstance(fleet, dict) else None
        name = configured if isinstance(configured, str) and configured else _replica_name()
        audit["origin"] = origin.replace("{replica}", name)


def parse_config(raw: Any, *, source: str = "config", base: Path | None = None) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    if base is not None:
        _resolve_paths(raw, base)
    _expand_replica(raw)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source} is invalid:\n{_format_errors(error)}") from None
    return settings


def load_config(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    return parse_config(raw, source=str(path), base=path.resolve().parent)


def _read_secret_file(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{field}: cannot read {path}: {error.strerror}") from None


def resolve_caller_tokens(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> list[CallerToken]:
    env = os.environ if environ is None else environ
    tokens: list[CallerToken] = []
    for index, entry in enumerate(settings.server.auth.tokens):
        field = f"server.auth.tokens.{index}"
        if entry.token_sha256 is not None:
            digest = bytes.fromhex(entry.token_sha256)
        else:
            if entry.token_env is not None:
                value = env.get(entry.token_env, "").strip()
            else:
                assert entry.token_file is not None
                value = _read_secret_file(entry.token_file, f"{field}.token_file")
            if not value:
                raise ConfigError(f"{field}: the token for {entry.name!r} is empty or unset")
            digest = token_digest(value)
        tokens.append(CallerToken(entry.name, digest, frozenset(entry.tenants)))
    return tokens


@dataclass(frozen=True, slots=True)
class ProviderKeys:
    """Each provider's API key, and why a configured one could not be had."""

    keys: dict[str, SecretStr | None]  # None: configured without a key (vLLM, Ollama), or missing
    missing: dict[str, str]  # provider id -> where its key was to come from and what is wrong


def _api_key(provider: ProviderConfig, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the key, or why it is missing); never the value in the reason."""
    if provider.api_key_env:
        value = env.get(provider.api_key_env, "").strip()
        if not value:
            state = "empty" if provider.api_key_env in env else "not set"
            return None, f"api_key_env {provider.api_key_env} is {state}"
        return value, None
    if provider.api_key_file:
        try:
            value = provider.api_key_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            why = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
            return None, f"api_key_file {provider.api_key_file}: {why}"
        if not value:
            return None, f"api_key_file {provider.api_key_file} is empty"
        return value, None
    return None, None


def resolve_api_keys(settings: Settings, environ: Mapping[str, str] | None = None) -> ProviderKeys:
    """Each provider's key, from its environment variable or secret file; never from a request.

    A missing key does not stop startup: that provider is left out of every route (the
    router never calls it without its key) and reported, so the others keep serving.
    """
    env = os.environ if environ is None else environ
    keys: dict[str, SecretStr | None] = {}
    missing: dict[str, str] = {}
    for provider in settings.providers:
        value, why = _api_key(provider, env)
        keys[provider.id] = SecretStr(value) if value else None
        if why is not None:
            missing[provider.id] = why
    return ProviderKeys(keys, missing)


def resolve_cloud_credentials(settings: Settings) -> dict[str, CloudCredentials]:
    """The AWS or Google credentials of each cloud provider, not yet loaded (that is I/O,
    done off the event loop at startup). botocore and google-auth read their own
    environment variables (AWS_*, GOOGLE_APPLICATION_CREDENTIALS); this module does not.
    A Bedrock provider with an API key (api_key_env/file) signs with none."""
    holders: dict[str, CloudCredentials] = {}
    for provider in settings.providers:
        options = provider.options
        if not provider.cloud_signed:
            continue
        # Imported only for a provider that needs them: botocore and google-auth take
        # tens of MB per process, for clouds most deployments do not configure.
        if provider.adapter == "bedrock":
            from adapters import AwsCredentials

            holders[provider.id] = AwsCredentials(options["region"], options.get("profile"))
        else:
            from adapters import GoogleCredentials

            path = options.get("credentials_file")
            holders[provider.id] = GoogleCredentials(Path(path) if path else None)
    return holders


REPLICA_ENV = "POLICY_ENGINE_REPLICA"


def _replica_name(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return env.get(REPLICA_ENV, "").strip() or socket.gethostname()


def resolve_replica(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """This replica's name: `fleet.replica`, else POLICY_ENGINE_REPLICA, else the host name
    (a Kubernetes pod's host name is the pod's name)."""
    return settings.fleet.replica or _replica_name(environ)


def resolve_s3_credentials(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """The shipping keys from the named variables; None leaves boto3 its own chain."""
    shipping = settings.shipping
    if shipping is None or shipping.access_key_id_env is None:
        return None
    assert shipping.secret_access_key_env is not None
    env = os.environ if environ is None else environ
    key_id = env.get(shipping.access_key_id_env, "").strip()
    secret = env.get(shipping.secret_access_key_env, "").strip()
    if not key_id or not secret:
        raise ConfigError(
            f"shipping: {shipping.access_key_id_env} and {shipping.secret_access_key_env} "
            "must both be set"
        )
    return key_id, secret


def resolve_redis_password(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> SecretStr | None:
    redis = settings.fleet.redis
    if redis is None:
        return None
    env = os.environ if environ is None else environ
    value: str | None = None
    if redis.password_env:
        value = env.get(redis.password_env)
    elif redis.password_file:
        value = _read_secret_file(redis.password_file, "fleet.redis.password_file")
    return SecretStr(value) if value else None


@dataclass(frozen=True, slots=True)
class ProxyEnvironment:
    """The proxy variables curl and most HTTP clients honour (the lower-case name first)."""

    https_proxy: SecretStr | None  # a URL that may carry user:password
    http_proxy: SecretStr | None
    no_proxy: str | None


def _proxy_variable(env: Mapping[str, str], name: str) -> str | None:
    for key in (name, name.upper()):
        value = env.get(key, "").strip()
        if value:
            return value
    return None


def resolve_proxy_environment(environ: Mapping[str, str] | None = None) -> ProxyEnvironment:
    env = os.environ if environ is None else environ
    https_proxy = _proxy_variable(env, "https_proxy")
    http_proxy = _proxy_variable(env, "http_proxy")
    return ProxyEnvironment(
        SecretStr(https_proxy) if https_proxy else None,
        SecretStr(http_proxy) if http_proxy else None,
        _proxy_variable(env, "no_proxy"),
    )


def resolve_proxy_credentials(
    proxy: ProxySettings, field: str, environ: Mapping[str, str] | None = None
) -> SecretStr | None:
    """The proxy's user:password from its variable or secret file; never the value in an error."""
    env = os.environ if environ is None else environ
    if proxy.credentials_env:
        value = env.get(proxy.credentials_env, "").strip()
        where = f"{field}.credentials_env {proxy.credentials_env}"
    elif proxy.credentials_file:
        value = _read_secret_file(proxy.credentials_file, f"{field}.credentials_file")
        where = f"{field}.credentials_file {proxy.credentials_file}"
    else:
        return None
    if not value:
        raise ConfigError(f"{where} is empty or unset")
    if ":" not in value:
        raise ConfigError(f"{where} must hold user:password")
    return SecretStr(value)
