"""Which way out each provider takes: the proxy settings' precedence, NO_PROXY's forms,
proxy credentials, CA bundles, and errors that name a setting but never its secret."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest

from policy_engine._config import load_config, parse_config
from policy_engine._errors import ConfigError
from policy_engine.routing import NoProxy, Proxy, egress_from_settings
from tests.pki import CertificateAuthority

PASSWORD = "s3cret-proxy-pass"


def settings(routing: dict[str, Any] | None = None, **provider: Any) -> Any:
    return parse_config(
        {
            "routing": routing or {},
            "providers": [
                {
                    "id": "cloud",
                    "adapter": "openai",
                    "base_url": "https://api.cloud.example/v1",
                    "models": {"default": "m"},
                    **provider,
                },
                {
                    "id": "local",
                    "adapter": "openai",
                    "base_url": "http://127.0.0.1:8000/v1",
                    "models": {"default": "m"},
                },
            ],
            "audit": {"dir": "/tmp/audit", "signing_key_file": "/tmp/key.pem"},
        }
    )


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


def proxy_of(env: dict[str, str], provider: str, url: str, **kwargs: Any) -> Proxy | None:
    table = egress_from_settings(settings(**kwargs), env)
    scheme, _, rest = url.partition("://")
    host, _, port = rest.partition(":")
    return table.of(provider).proxy_for(scheme, host, int(port or 443))


def test_without_settings_or_environment_every_provider_goes_direct() -> None:
    assert proxy_of({}, "cloud", "https://api.cloud.example") is None


def test_https_proxy_from_the_environment_carries_https_providers() -> None:
    proxy = proxy_of(
        {"HTTPS_PROXY": "http://proxy.corp:3128"}, "cloud", "https://api.cloud.example"
    )
    assert proxy == Proxy("proxy.corp", 3128)


def test_http_proxy_from_the_environment_carries_only_http_providers() -> None:
    env = {"HTTP_PROXY": "http://proxy.corp:3128"}
    assert proxy_of(env, "cloud", "https://api.cloud.example") is None
    assert proxy_of(env, "local", "http://10.1.2.3:8000") == Proxy("proxy.corp", 3128)


def test_the_lower_case_variable_wins_as_in_curl() -> None:
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"}
    assert proxy_of(env, "cloud", "https://api.cloud.example") == Proxy("lower", 1)


def test_a_proxy_variable_without_a_scheme_means_http() -> None:
    proxy = proxy_of({"HTTPS_PROXY": "proxy.corp:8080"}, "cloud", "https://api.cloud.example")
    assert proxy == Proxy("proxy.corp", 8080)


def test_credentials_in_the_environments_url_become_basic_authorization() -> None:
    env = {"HTTPS_PROXY": "http://user%40corp:p%3Ass@proxy.corp:3128"}
    proxy = proxy_of(env, "cloud", "https://api.cloud.example")
    assert proxy is not None
    assert proxy.authorization == basic("user@corp:p:ss")


@pytest.mark.parametrize(
    ("no_proxy", "host", "bypassed"),
    [
        ("cloud.example", "api.cloud.example", True),
        (".cloud.example", "api.cloud.example", True),
        ("cloud.example", "cloud.example", True),
        ("cloud.example", "notcloud.example", False),
        ("CLOUD.Example", "api.cloud.example", True),
        ("*", "anything.example", True),
        ("10.0.0.0/8", "10.20.30.40", True),
        ("10.0.0.0/8", "11.0.0.1", False),
        ("127.0.0.1", "127.0.0.1", True),
        ("::1", "::1", True),
        ("[::1]:443", "::1", True),
        ("api.cloud.example:8443", "api.cloud.example", False),
        ("api.cloud.example:443", "api.cloud.example", True),
        (" a.example , cloud.example ,", "api.cloud.example", True),
        ("", "api.cloud.example", False),
    ],
)
def test_no_proxy_entries_exempt_names_suffixes_addresses_and_ports(
    no_proxy: str, host: str, bypassed: bool
) -> None:
    assert NoProxy.parse(no_proxy.split(",")).bypasses(host, 443) is bypassed


def test_no_proxy_from_the_environment_exempts_its_hosts() -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "localhost,.cloud.example"}
    assert proxy_of(env, "cloud", "https://api.cloud.example") is None


def test_routing_no_proxy_replaces_the_environments() -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".cloud.example"}
    proxy = proxy_of(env, "cloud", "https://api.cloud.example", routing={"no_proxy": ["other"]})
    assert proxy == Proxy("proxy.corp", 3128)


def test_routing_proxy_replaces_the_environments_and_carries_both_schemes() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:1"}
    routing = {"proxy": "http://configured:3128"}
    assert proxy_of(env, "cloud", "https://api.cloud.example", routing=routing) == Proxy(
        "configured", 3128
    )
    assert proxy_of(env, "local", "http://10.1.2.3:8000", routing=routing) == Proxy(
        "configured", 3128
    )


def test_routing_proxy_direct_ignores_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:1"}
    assert proxy_of(env, "cloud", "https://x.example", routing={"proxy": "direct"}) is None


def test_a_providers_own_proxy_wins_and_no_proxy_does_not_apply_to_it() -> None:
    env = {"HTTPS_PROXY": "http://env-proxy:1", "NO_PROXY": "*"}
    proxy = proxy_of(env, "cloud", "https://api.cloud.example", proxy="http://eu-proxy:3128")
    assert proxy == Proxy("eu-proxy", 3128)
    assert proxy_of(env, "local", "https://api.cloud.example") is None  # NO_PROXY=* for it


def test_a_providers_direct_ignores_the_global_proxy() -> None:
    routing = {"proxy": "http://configured:3128"}
    assert proxy_of({}, "cloud", "https://x.example", routing=routing, proxy="direct") is None


def test_proxy_credentials_come_from_their_variable() -> None:
    env = {"PROXY_AUTH": f"svc-router:{PASSWORD}"}
    proxy = proxy_of(
        env,
        "cloud",
        "https://x.example",
        proxy={"url": "http://proxy.corp:3128", "credentials_env": "PROXY_AUTH"},
    )
    assert proxy is not None
    assert proxy.authorization == basic(f"svc-router:{PASSWORD}")
    assert PASSWORD not in repr(proxy)
    assert "cHJveHk" not in repr(proxy)


def test_proxy_credentials_come_from_their_file(tmp_path: Path) -> None:
    secret = tmp_path / "proxy-auth"
    secret.write_text(f"svc-router:{PASSWORD}\n")
    routing = {"proxy": {"url": "http://proxy.corp:3128", "credentials_file": str(secret)}}
    proxy = proxy_of({}, "cloud", "https://x.example", routing=routing)
    assert proxy is not None
    assert proxy.authorization == basic(f"svc-router:{PASSWORD}")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "routing.proxy.credentials_env PROXY_AUTH is empty or unset"),
        (
            {"PROXY_AUTH": PASSWORD},
            "routing.proxy.credentials_env PROXY_AUTH must hold user:password",
        ),
    ],
    ids=["unset", "no-user"],
)
def test_unusable_proxy_credentials_stop_startup_without_showing_them(
    env: dict[str, str], expected: str
) -> None:
    routing = {"proxy": {"url": "http://proxy.corp:3128", "credentials_env": "PROXY_AUTH"}}
    with pytest.raises(ConfigError) as raised:
        egress_from_settings(settings(routing=routing), env)
    assert raised.value.message == expected
    assert PASSWORD not in raised.value.message


@pytest.mark.parametrize(
    "value",
    [
        f"https://user:{PASSWORD}@proxy.corp:3128",
        f"socks5://user:{PASSWORD}@proxy.corp:1080",
        f"http://user:{PASSWORD}@proxy.corp:99999",
    ],
    ids=["https-proxy", "socks", "bad-port"],
)
def test_an_unusable_proxy_variable_stops_startup_naming_it_not_its_value(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        egress_from_settings(settings(), {"HTTPS_PROXY": value})
    assert raised.value.message.startswith("HTTPS_PROXY: ")
    assert PASSWORD not in raised.value.message


@pytest.mark.parametrize(
    ("proxy", "problem"),
    [
        (f"http://user:{PASSWORD}@proxy.corp:3128", "must not carry credentials"),
        ("https://proxy.corp:3128", "must be an http:// URL"),
        ("http://proxy.corp:3128/path", "without a path"),
        ("http://proxy.corp:port", "Port could not be cast"),
        (
            {"url": "http://p:1", "credentials_env": "A", "credentials_file": "/f"},
            "not both",
        ),
    ],
    ids=["credentials-in-url", "https", "path", "bad-port", "two-sources"],
)
def test_a_configured_proxy_must_be_a_plain_http_address(proxy: Any, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings(proxy=proxy)
    assert "providers.0.proxy" in raised.value.message
    assert problem in raised.value.message
    assert PASSWORD not in raised.value.message


def test_a_ca_bundle_is_the_only_trust_for_its_provider(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path, "corp")
    table = egress_from_settings(settings(ca_bundle=str(ca.bundle)), {})
    tls = table.of("cloud").tls
    assert tls is not None
    assert tls.cert_store_stats()["x509_ca"] == 1  # the bundle alone, not the system store
    assert tls.verify_mode is ssl.CERT_REQUIRED
    assert tls.check_hostname
    assert tls.minimum_version is ssl.TLSVersion.TLSv1_2
    assert table.of("local").tls is None  # the system store, loaded when first needed


def test_the_global_ca_bundle_applies_to_providers_without_their_own(tmp_path: Path) -> None:
    corp, own = CertificateAuthority(tmp_path, "corp"), CertificateAuthority(tmp_path, "own")
    table = egress_from_settings(
        settings(routing={"ca_bundle": str(corp.bundle)}, ca_bundle=str(own.bundle)), {}
    )
    assert table.of("cloud").ca_bundle == own.bundle
    assert table.of("local").ca_bundle == corp.bundle


@pytest.mark.parametrize("content", [None, b"not a certificate"], ids=["missing", "garbage"])
def test_an_unreadable_ca_bundle_stops_startup_naming_it(
    tmp_path: Path, content: bytes | None
) -> None:
    bundle = tmp_path / "bundle.pem"
    if content is not None:
        bundle.write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        egress_from_settings(settings(ca_bundle=str(bundle)), {})
    assert raised.value.message.startswith(f"providers.0.ca_bundle {bundle}: cannot load it")


def test_relative_ca_bundle_and_credentials_paths_follow_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "policy-engine.yaml").write_text(
        """
routing:
  ca_bundle: certs/corp.pem
  proxy: {url: "http://proxy.corp:3128", credentials_file: secrets/proxy}
providers:
  - {id: a, adapter: openai, base_url: "https://a.example", models: {default: m},
     ca_bundle: certs/a.pem}
audit: {dir: audit, signing_key_file: keys/k.pem}
"""
    )
    loaded = load_config(tmp_path / "policy-engine.yaml")
    assert loaded.routing.ca_bundle == tmp_path / "certs" / "corp.pem"
    assert loaded.providers[0].ca_bundle == tmp_path / "certs" / "a.pem"
    assert loaded.routing.proxy not in (None, "direct")
    assert loaded.routing.proxy.credentials_file == tmp_path / "secrets" / "proxy"  # type: ignore[union-attr]


def test_the_startup_description_names_the_proxy_never_its_credentials() -> None:
    env = {"HTTPS_PROXY": f"http://svc:{PASSWORD}@proxy.corp:3128"}
    described = egress_from_settings(settings(), env).of("cloud").describe()
    assert described == "proxy proxy.corp:3128; CAs: system store"
    assert PASSWORD not in described
