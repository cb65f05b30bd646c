"""Credentials the shipped policy redacts for every provider (SECRET), all synthetic.

The token formats follow maintained secret scanners' rules (gitleaks' config/gitleaks.toml,
detect-secrets' plugins; each pattern in policy_engine/redaction/_secrets.py names its
rule): a provider's token is found by its own prefix and alphabet, wherever it stands;
a value assigned to a credential-named key, an HTTP Basic credential and a private key
block cut short are found by their context. Only the secret is redacted: the variable
name, the header name and the URL around it stay readable.
"""

from __future__ import annotations

import pytest

from policy_engine.redaction import PatternDetector

DETECTOR = PatternDetector()


def secrets(text: str) -> list[str]:
    return [text[s.start : s.end] for s in DETECTOR.detect(text) if s.entity_type == "SECRET"]


def _fill(alphabet: str, length: int) -> str:
    return (alphabet * (length // len(alphabet) + 1))[:length]


ALNUM = "aB3dE5fG7hJ9kL2mN4pQ6rS8tV0wX1yZ"
HEX = "0123456789abcdef"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

TOKENS = [
    # OpenAI, Anthropic (gitleaks openai-api-key, anthropic-api-key)
    "sk-proj-" + _fill(ALNUM, 48),
    "sk-ant-api03-" + _fill(ALNUM, 93) + "AA",
    # AWS access key ids (gitleaks aws-access-token)
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAY34FZKBOKMUTVV7A",
    # GitHub, GitLab (gitleaks github-pat, github-fine-grained-pat, gitlab-pat)
    "ghp_" + _fill(ALNUM, 36),
    "github_pat_11ABCDEFG0" + _fill(ALNUM, 72),
    "glpat-" + _fill(ALNUM, 20),
    # Slack (gitleaks slack-bot-token, slack-user-token, slack-app-token, slack-webhook-url)
    "xoxb-123456789012-1234567890123-" + _fill(ALNUM, 24),
    "xoxp-123456789012-123456789012-123456789012-" + _fill(HEX, 32),
    "xapp-1-A0123456789-1234567890123-" + _fill(HEX, 64),
    "https://hooks.slack.com/services/T00000000/B00000000/" + _fill(ALNUM, 24),
    # Stripe (gitleaks stripe-access-token)
    "sk_live_" + _fill(ALNUM, 24),
    "rk_test_" + _fill(ALNUM, 24),
    "whsec_" + _fill(ALNUM, 32),
    # Google (gitleaks gcp-api-key)
    "AIzaSyD-" + _fill(ALNUM, 31),
    "GOCSPX-" + _fill(ALNUM, 28),
    # Twilio, SendGrid, npm, PyPI, Hugging Face, Shopify, DigitalOcean, Databricks
    "SK" + _fill(HEX, 32),
    "SG." + _fill(ALNUM, 22) + "." + _fill(ALNUM, 43),
    "npm_" + _fill(ALNUM, 36),
    "pypi-AgEIcHlwaS5vcmc" + _fill(ALNUM, 60),
    "hf_" + _fill("aBcDeFgHiJkLmNoPqRsTuVwXyZ", 34),
    "shpat_" + _fill(HEX, 32),
    "dop_v1_" + _fill(HEX, 64),
    "dapi" + _fill(HEX, 32),
    # Vault, Linear, Notion, Postman, Perplexity, Groq, age
    "hvs." + _fill(ALNUM, 95),
    "lin_api_" + _fill(ALNUM, 40),
    "ntn_" + "12345678901" + _fill(ALNUM, 35),
    "PMAK-" + _fill(HEX, 24) + "-" + _fill(HEX, 34),
    "pplx-" + _fill(ALNUM, 48),
    "gsk_" + _fill(ALNUM, 52),
    "AGE-SECRET-KEY-1" + _fill("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58),
    # Azure storage account key, Azure AD client secret, Telegram bot token
    "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + _fill(ALNUM, 86) + "==",
    "abc8Q~" + _fill(ALNUM, 34),
    "123456789:" + _fill(ALNUM, 35),
    # JWT
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123_-x",
]


def _secret_part(token: str) -> str:
    # Where the scanner's rule takes only part of the match as the secret.
    if token.startswith("DefaultEndpointsProtocol"):
        return token.rsplit("AccountKey=", 1)[1]
    return token


@pytest.mark.parametrize("token", TOKENS, ids=[t[:12] for t in TOKENS])
def test_provider_token_is_found_by_its_prefix_anywhere(token: str) -> None:
    secret = _secret_part(token)
    for text in (f"use {token} here", f'{{"key": "{token}"}}', f"key={token}&x=1"):
        assert secrets(text) == [secret], text


ASSIGNMENTS = [
    ("password=hunter2", "hunter2"),
    ("password: hunter2", "hunter2"),
    ("Password : hunter2", "hunter2"),
    ("DB_PASSWORD=s3cr3t!", "s3cr3t!"),
    ("export MYSQL_ROOT_PASSWORD='Tr0ub4dor&3'", "Tr0ub4dor&3"),
    ('{"password": "correct horse battery staple"}', "correct horse battery staple"),
    ("spring.datasource.password = pa55word", "pa55word"),
    ("?user=bob&passwd=letmein&next=/", "letmein"),
    ("PGPASSWORD=pg_s3cret psql", "pg_s3cret"),
    ("client_secret: 9d8f7e6c5b4a3f2e1d0c", "9d8f7e6c5b4a3f2e1d0c"),
    ("secret_key = 'django-insecure-7x!k2@p#9z'", "django-insecure-7x!k2@p#9z"),
    ("API_KEY=a1b2c3d4e5f6g7h8i9j0", "a1b2c3d4e5f6g7h8i9j0"),
    ("x-api-key: 3f2a9c81e4b7d605", "3f2a9c81e4b7d605"),
    ("GITHUB_TOKEN=abcdef0123456789", "abcdef0123456789"),
    ("access_token: ya29.a0AfB_byC3d4e5f6", "ya29.a0AfB_byC3d4e5f6"),
    ("pwd=Xk9#mQ2", "Xk9#mQ2"),
    ("passphrase: my dog has fleas", "my"),
    ("<password>hunter2</password>", "hunter2"),
    ("password=dGVzdA==", "dGVzdA=="),
    ("DB_PASSWORD=hunter2:", "hunter2:"),
    ('password: "Username: bob"', "Username: bob"),
]


@pytest.mark.parametrize(("text", "secret"), ASSIGNMENTS, ids=[a[0] for a in ASSIGNMENTS])
def test_value_assigned_to_a_credential_name_is_the_secret(text: str, secret: str) -> None:
    assert secrets(f"config: {text}") == [secret]


AWS_SECRET_KEYS = [
    f"aws_secret_access_key = {AWS_SECRET}",
    f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
    f'"SecretAccessKey": "{AWS_SECRET}"',
    f"key id AKIAIOSFODNN7EXAMPLE, secret {AWS_SECRET}",
    f"here it is: {AWS_SECRET}",
]


@pytest.mark.parametrize("text", AWS_SECRET_KEYS)
def test_aws_secret_access_key_is_found_with_or_without_its_name(text: str) -> None:
    assert AWS_SECRET in secrets(text)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("authorization: basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ('"Authorization": "Basic dXNlcjpwYXNz"', "dXNlcjpwYXNz"),
        ("Proxy-Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l", "YWxhZGRpbjpvcGVuc2VzYW1l"),
        (
            "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bb",
            "9944b09199c62bcf9418ad846dd0e4bb",
        ),
    ],
)
def test_http_authorization_credential_is_the_secret(text: str, secret: str) -> None:
    assert secrets(f"curl -H '{text}' https://api.example.com") == [secret]


BODY = (
    "MIIEowIBAAKCAQEAq3QpZ1x0P4cR8v2YsNv9J3kT0sFjA7wE\nXd8bL2m9QhV5cR1tY6uI0oP3aS7dF4gH2jK8lZ5xC\n"
)


@pytest.mark.parametrize(
    "header",
    [
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "-----BEGIN EC PRIVATE KEY-----",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----",
        "-----BEGIN PGP PRIVATE KEY BLOCK-----",
    ],
)
def test_private_key_block_cut_short_is_found_through_its_last_line(header: str) -> None:
    text = f"my key:\n{header}\n{BODY}"
    assert secrets(text) == [f"{header}\n{BODY}".rstrip("\n")]


def test_private_key_body_ends_where_prose_starts() -> None:
    text = f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}\nCan you tell me what is wrong with it?"
    assert secrets(text) == [f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}".rstrip("\n")]


def test_putty_private_lines_are_a_secret() -> None:
    text = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n"
        "AAAAIGgn5F0E2qkzXbIj0x9Q2mlrF7Gp\nPrivate-MAC: ab"
    )
    assert secrets(text) == ["AAAAIGgn5F0E2qkzXbIj0x9Q2mlrF7Gp"]


LOOK_ALIKES = [
    "password: ********",
    "password = os.environ['DB_PASSWORD']",
    "password=${DB_PASSWORD}",
    "password: <your password>",
    "password = None",
    "token: 1500 tokens used",
    "max_tokens=1024",
    "the secret to good bread is time",
    "skip the sk- prefix",
    "git commit 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Basic Information about the product",
    "path /usr/local/share/applications/Firefox",
    "uuid d96bd90d-b6f3-4f58-ae5e-42cc90738d65",
    "api_key: required",
    "Password: Username: Email:",
    "password= api_key: token= password= api_key: token= ",
    "A long English word like Antidisestablishmentarianism is not a key",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_is_not_a_secret(text: str) -> None:
    assert secrets(text) == []
