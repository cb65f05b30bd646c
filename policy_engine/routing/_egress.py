"""How each provider is reached: directly or through an HTTP proxy, and which CAs its
certificate must chain to.

Resolved once at startup from the config and the environment (HTTPS_PROXY, HTTP_PROXY,
NO_PROXY, read by `policy_engine._config`); the client asks `Egress.proxy_for` once per
provider URL and keeps the answer.
"""

from __future__ import annotations

import base64
import ipaddress
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import SecretStr

from policy_engine._config import (
    ProxyEnvironment,
    ProxySettings,
    Settings,
    resolve_proxy_credentials,
    resolve_proxy_environment,
)
from policy_engine._errors import ConfigError

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    # "Basic ..." for Proxy-Authorization; kept out of repr so no log or error shows it.
    authorization: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """host:port, for logs: never the credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


def parse_proxy_url(url: str, credentials: SecretStr | None, where: str) -> Proxy:
    """A proxy from an http:// URL; user:password in the URL (as the environment's
    variables often carry them) is used when no separate credentials are given."""
    text = url if "://" in url else f"http://{url}"  # curl's reading of host:port
    try:
        parts = urlsplit(text)
        port = parts.port or 80
    except ValueError:
        raise ConfigError(f"{where}: not a proxy URL") from None
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigError(f"{where}: only http:// proxies are supported (the tunnel carries TLS)")
    secret = credentials.get_secret_value() if credentials is not None else None
    if secret is None and parts.username is not None:
        secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return Proxy(parts.hostname, port, _basic(secret) if secret is not None else None)


@dataclass(frozen=True, slots=True)
class NoProxy:
    """Hosts reached directly, in NO_PROXY's usual forms: `*`, a name and its subdomains
    (`example.com`, `.example.com`), an IP address or CIDR block, each with an optional port."""

    everything: bool = False
    names: tuple[tuple[str, int | None], ...] = ()
    networks: tuple[tuple[_Network, int | None], ...] = ()

    @classmethod
    def parse(cls, entries: Sequence[str]) -> NoProxy:
        names: list[tuple[str, int | None]] = []
        networks: list[tuple[_Network, int | None]] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                return cls(everything=True)
            host, port = _split_port(entry)
            try:
                networks.append((ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                names.append((host.lstrip(".").rstrip("."), port))
        return cls(False, tuple(names), tuple(networks))

    def bypasses(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().rstrip(".")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return any(
                (host == name or host.endswith("." + name)) and wanted in (None, port)
                for name, wanted in self.names
            )
        return any(
            address in network and wanted in (None, port) for network, wanted in self.networks
        )


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):  # [::1]:8080 or [::1]
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


@dataclass(frozen=True, slots=True)
class Egress:
    """One provider's way out: the proxy per URL scheme, the hosts exempt from it, and
    the TLS context its certificates are checked with."""

    tls: ssl.SSLContext | None = None  # None: the system store's, made on first use
    https_proxy: Proxy | None = None
    http_proxy: Proxy | None = None
    bypass: NoProxy = field(default_factory=NoProxy)
    ca_bundle: Path | None = None  # for the startup log; None: the system store

    def proxy_for(self, scheme: str, host: str, port: int) -> Proxy | None:
        proxy = self.https_proxy if scheme == "https" else self.http_proxy
        if proxy is None or self.bypass.bypasses(host, port):
            return None
        return proxy

    def describe(self) -> str:
        """What the startup log says about this way out; never a credential."""
        proxies = {p.label for p in (self.https_proxy, self.http_proxy) if p is not None}
        via = f"proxy {', '.join(sorted(proxies))}" if proxies else "direct"
        return f"{via}; CAs: {self.ca_bundle or 'system store'}"


@dataclass(frozen=True, slots=True)
class EgressTable:
    default: Egress = field(default_factory=Egress)
    providers: Mapping[str, Egress] = field(default_factory=dict)

    def of(self, provider: str | None) -> Egress:
        return self.providers.get(provider, self.default) if provider else self.default


def tls_context(ca_bundle: Path | None = None, field_name: str = "ca_bundle") -> ssl.SSLContext:
    """Certificate and host name checked (SNI sent), TLS 1.2 at least, HTTP/1.1 offered by
    ALPN; the CAs are the bundle's alone when one is given, else the system store."""
    try:
        context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    except (OSError, ssl.SSLError) as error:
        why = getattr(error, "strerror", None) or getattr(error, "reason", None) or "unreadable"
        raise ConfigError(f"{field_name} {ca_bundle}: cannot load it ({why})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


class _Contexts:
    """One SSL context per CA bundle, shared by the providers that name it."""

    def __init__(self) -> None:
        self._by_bundle: dict[Path, ssl.SSLContext] = {}

    def get(self, bundle: Path | None, field_name: str) -> ssl.SSLContext | None:
        if bundle is None:
            return None  # the system store's, made by the client when first needed
        if bundle not in self._by_bundle:
            self._by_bundle[bundle] = tls_context(bundle, field_name)
        return self._by_bundle[bundle]


def _configured(proxy: ProxySettings, field_name: str, env: Mapping[str, str] | None) -> Proxy:
    credentials = resolve_proxy_credentials(proxy, field_name, env)
    return parse_proxy_url(proxy.url, credentials, field_name)


def _global(
    settings: Settings, proxies: ProxyEnvironment, env: Mapping[str, str] | None
) -> tuple[Proxy | None, Proxy | None, NoProxy]:
    routing = settings.routing
    if routing.no_proxy is not None:
        bypass = NoProxy.parse(routing.no_proxy)
    else:
        bypass = NoProxy.parse((proxies.no_proxy or "").split(","))
    if routing.proxy == "direct":
        return None, None, NoProxy()
    if routing.proxy is not None:
        proxy = _configured(routing.proxy, "routing.proxy", env)
        return proxy, proxy, bypass
    https = proxies.https_proxy
    plain = proxies.http_proxy
    return (
        parse_proxy_url(https.get_secret_value(), None, "HTTPS_PROXY") if https else None,
        parse_proxy_url(plain.get_secret_value(), None, "HTTP_PROXY") if plain else None,
        bypass,
    )


def egress_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> EgressTable:
    """Every provider's way out, or a ConfigError naming the setting (never its secret).

    A provider's own `proxy` is used for all its traffic; `routing.proxy` (else the
    environment's HTTPS_PROXY / HTTP_PROXY) for the others, except the hosts that
    `routing.no_proxy` (else NO_PROXY) exempts; `direct` at either level means no proxy.
    """
    contexts = _Contexts()
    https, plain, bypass = _global(settings, resolve_proxy_environment(environ), environ)
    bundle = settings.routing.ca_bundle
    default = Egress(contexts.get(bundle, "routing.ca_bundle"), https, plain, bypass, bundle)
    providers: dict[str, Egress] = {}
    for index, provider in enumerate(settings.providers):
        own_bundle = provider.ca_bundle or bundle
        tls = contexts.get(own_bundle, f"providers.{index}.ca_bundle")
        if provider.proxy == "direct":
            providers[provider.id] = Egress(tls, ca_bundle=own_bundle)
        elif provider.proxy is not None:
            proxy = _configured(provider.proxy, f"providers.{index}.proxy", environ)
            providers[provider.id] = Egress(tls, proxy, proxy, NoProxy(), own_bundle)
        else:
            providers[provider.id] = Egress(tls, https, plain, bypass, own_bundle)
    return EgressTable(default, providers)
