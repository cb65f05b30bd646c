"""The one YAML config file, validated at startup, and the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from phonenumbers import SUPPORTED_REGIONS
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from adapters import ADAPTER_NAMES
from policy_engine._auth import CallerToken, token_digest
from policy_engine._errors import ConfigError
from policy_engine.audit import AuditSettings
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


class ProviderConfig(_Strict):
    id: ProviderId
    adapter: str = Field(description=f"One of: {', '.join(ADAPTER_NAMES)}")
    base_url: str
    api_key_env: str | None = Field(None, description="Environment variable holding the API key")
    api_key_file: Path | None = Field(
        None, description="File holding the API key (a mounted secret)"
    )
    models: dict[str, str] = Field(
        description="Logical alias -> provider model; 'default' required"
    )
    options: dict[str, str] = Field(default_factory=dict, description="Adapter options")
    priority: int = Field(100, description="Lower is tried first under the priority strategy")
    attributes: ProviderAttributes = Field(default_factory=ProviderAttributes)

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
        return self


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

    @field_validator("providers")
    @classmethod
    def _unique_ids(cls, value: list[ProviderConfig]) -> list[ProviderConfig]:
        seen: set[str] = set()
        for provider in value:
            if provider.id in seen:
                raise ValueError(f"duplicate provider id {provider.id!r}")
            seen.add(provider.id)
        return value

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
    for provider in raw.get("providers") or []:
        if isinstance(provider, dict) and isinstance(provider.get("api_key_file"), str):
            provider["api_key_file"] = str((base / provider["api_key_file"]).resolve())
    server = raw.get("server")
    auth = server.get("auth") if isinstance(server, dict) else None
    for token in (auth.get("tokens") if isinstance(auth, dict) else None) or []:
        if isinstance(token, dict) and isinstance(token.get("token_file"), str):
            token["token_file"] = str((base / token["token_file"]).resolve())


def parse_config(raw: Any, *, source: str = "config", base: Path | None = None) -> Settings:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    if base is not None:
        _resolve_paths(raw, base)
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


def resolve_api_keys(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> dict[str, SecretStr | None]:
    """Each provider's key, from its environment variable or secret file; never from a request."""
    env = os.environ if environ is None else environ
    keys: dict[str, SecretStr | None] = {}
    for provider in settings.providers:
        value: str | None = None
        if provider.api_key_env:
            value = env.get(provider.api_key_env)
        elif provider.api_key_file:
            value = _read_secret_file(
                provider.api_key_file, f"providers[{provider.id}].api_key_file"
            )
        keys[provider.id] = SecretStr(value) if value else None
    return keys
