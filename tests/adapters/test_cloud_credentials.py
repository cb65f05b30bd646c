"""Cloud credentials: botocore's and google-auth's chains, loaded and refreshed in worker
threads before expiry, never on the event loop; signing reads only the copy kept.

botocore is pointed at files under the test's folder and at loopback fakes (STS, the
Google token endpoint): nothing of the machine's own AWS or Google setup is read.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters import (
    AwsCredentials,
    CloudCredentials,
    CredentialsUnavailable,
    GoogleCredentials,
    keep_fresh,
    load_all,
)
from tests.fakes import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    FakeProvider,
    FakeSts,
    SigV4Door,
    aws_environment,
)

URL = "https://bedrock-runtime.eu-central-1.amazonaws.com/model/m/converse"


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """botocore's environment: the synthetic key, files under tmp_path, no IMDS."""
    for name, value in aws_environment(str(tmp_path)).items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    yield tmp_path


def without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")


def refresh_failed(error: CredentialsUnavailable) -> None:
    pytest.fail(f"a refresh failed: {error.message}")


async def kept_fresh(
    credentials: CloudCredentials,
    until: Callable[[], bool],
    on_error: Callable[[CredentialsUnavailable], None] = refresh_failed,
) -> None:
    """Run `keep_fresh` (polling every 10 ms) until `until()` holds or ten seconds pass."""
    task = asyncio.create_task(keep_fresh(credentials, on_error, poll_s=0.01))
    try:
        for _ in range(1000):
            if until():
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()


def web_identity(monkeypatch: pytest.MonkeyPatch, token_file: Path, sts: FakeSts) -> None:
    """botocore's web-identity chain (a Kubernetes service account's) against the fake STS."""
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/policy-engine")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)


def credential_process(home: Path, minutes: int, fail_after: int = 1000) -> Path:
    """A `credential_process` profile whose script counts its runs and hands out a new
    temporary key each time, expiring in `minutes`; it fails past `fail_after` runs."""
    counter = home / "runs"
    counter.write_text("0")
    script = home / "process.py"
    script.write_text(
        "import json, sys, datetime, pathlib\n"
        f"counter = pathlib.Path({str(counter)!r})\n"
        "runs = int(counter.read_text()) + 1\n"
        "counter.write_text(str(runs))\n"
        f"if runs > {fail_after}:\n"
        "    sys.exit('the identity provider is down')\n"
        "expires = datetime.datetime.now(datetime.timezone.utc) + "
        f"datetime.timedelta(minutes={minutes})\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'ASIAPROCESS{runs:04d}',\n"
        "    'SecretAccessKey': 'process-secret', 'SessionToken': f'token-{runs}',\n"
        "    'Expiration': expires.strftime('%Y-%m-%dT%H:%M:%SZ')}))\n"
    )
    (home / "aws-config").write_text(
        f"[profile rotating]\ncredential_process = {sys.executable} {script}\n"
    )
    return counter


def test_keys_from_the_environment_sign_with_sigv4_for_bedrock(aws_home: Path) -> None:
    credentials = AwsCredentials("eu-central-1")
    credentials.load()
    headers = credentials.sign(URL, {"content-type": "application/json"}, b"{}")
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/")
    assert "/eu-central-1/bedrock/aws4_request" in headers["Authorization"]
    assert not credentials.refresh_due()  # long-term keys never expire


def test_a_named_profile_is_read_from_the_shared_credentials_file(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    (aws_home / "aws-credentials").write_text(
        "[bedrock-prod]\naws_access_key_id = AKIAPROFILEKEY000001\n"
        "aws_secret_access_key = profile-secret\n"
    )
    credentials = AwsCredentials("eu-central-1", profile="bedrock-prod")
    credentials.load()
    assert credentials.access_key_id == "AKIAPROFILEKEY000001"


def test_missing_credentials_are_unavailable_with_a_reason_and_no_secret(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    with pytest.raises(CredentialsUnavailable, match="none found"):
        AwsCredentials("eu-central-1").load()
    with pytest.raises(CredentialsUnavailable, match="ProfileNotFound") as caught:
        AwsCredentials("eu-central-1", profile="nope").load()
    assert SECRET_ACCESS_KEY not in caught.value.message


def test_expiring_credentials_are_refreshed_by_refresh_and_never_by_signing(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    runs = credential_process(aws_home, minutes=12)
    credentials = AwsCredentials("eu-central-1", profile="rotating")
    # Keys already inside botocore's advisory window (15 minutes before expiry) are
    # fetched again at once: loading ran the process twice.
    credentials.load()
    assert (credentials.access_key_id, runs.read_text()) == ("ASIAPROCESS0002", "2")
    assert credentials.refresh_due()
    # Signing uses the key in hand and runs nothing.
    credentials.sign(URL, {}, b"{}")
    assert runs.read_text() == "2"
    credentials.refresh()
    assert credentials.access_key_id == "ASIAPROCESS0003"
    headers = credentials.sign(URL, {}, b"{}")
    assert headers["X-Amz-Security-Token"] == "token-3"


def test_credentials_far_from_expiry_are_not_due(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    credential_process(aws_home, minutes=60)
    credentials = AwsCredentials("eu-central-1", profile="rotating")
    credentials.load()
    assert not credentials.refresh_due()


async def test_keep_fresh_refreshes_in_a_worker_thread_before_expiry(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    runs = credential_process(aws_home, minutes=12)
    credentials = AwsCredentials("eu-central-1", profile="rotating")
    assert await load_all({"bedrock": credentials}) == {}
    loaded = credentials.access_key_id
    await kept_fresh(credentials, until=lambda: credentials.access_key_id != loaded)
    assert credentials.access_key_id != loaded
    assert int(runs.read_text()) >= 3


async def test_a_failed_refresh_is_reported_and_the_old_key_kept(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    # Inside botocore's mandatory window (10 minutes) a failed refresh is an error.
    credential_process(aws_home, minutes=5, fail_after=2)
    credentials = AwsCredentials("eu-central-1", profile="rotating")
    credentials.load()
    failures: list[CredentialsUnavailable] = []
    await kept_fresh(credentials, until=lambda: bool(failures), on_error=failures.append)
    assert failures and "refresh" in failures[0].message
    assert credentials.access_key_id == "ASIAPROCESS0002"


async def test_a_kubernetes_service_account_gets_keys_through_web_identity(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    token_file = aws_home / "eks-token"
    token_file.write_text("eyJ.projected-service-account-token.sig")
    door = SigV4Door("eu-central-1")
    async with FakeSts(door, token_file.read_text(), ttl_s=3600) as sts:
        web_identity(monkeypatch, token_file, sts)
        credentials = AwsCredentials("eu-central-1")
        assert await load_all({"bedrock": credentials}) == {}
    assert credentials.access_key_id == sts.issued[0]
    assert not credentials.refresh_due()


async def test_a_refused_web_identity_token_leaves_the_provider_without_credentials(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_keys(monkeypatch)
    token_file = aws_home / "eks-token"
    token_file.write_text("a-token-sts-does-not-know")
    async with FakeSts(SigV4Door("eu-central-1"), "the-right-token") as sts:
        web_identity(monkeypatch, token_file, sts)
        reasons = await load_all({"bedrock": AwsCredentials("eu-central-1")})
    assert "InvalidIdentityToken" in reasons["bedrock"]
    assert "a-token-sts-does-not-know" not in reasons["bedrock"]


# -- Google ------------------------------------------------------------------------------


async def test_a_service_account_key_gets_an_access_token_the_fake_accepts() -> None:
    async with FakeProvider("vertex") as fake:
        assert fake.credentials_file is not None
        credentials = GoogleCredentials(fake.credentials_file)
        assert await load_all({"vertex": credentials}) == {}
        assert fake.google is not None and credentials.token in fake.google.tokens
        assert fake.google.token_requests == 1
        assert not credentials.refresh_due()


async def test_a_token_near_expiry_is_due_and_refresh_gets_a_new_one() -> None:
    async with FakeProvider("vertex") as fake:
        assert fake.google is not None and fake.credentials_file is not None
        fake.google.token_ttl_s = 120  # inside the five minutes' margin
        credentials = GoogleCredentials(fake.credentials_file)
        await asyncio.to_thread(credentials.load)
        first = credentials.token
        assert credentials.refresh_due()
        await asyncio.to_thread(credentials.refresh)
        assert credentials.token != first
        assert fake.google.token_requests == 2


async def test_keep_fresh_replaces_a_google_token_before_it_expires() -> None:
    async with FakeProvider("vertex") as fake:
        assert fake.google is not None and fake.credentials_file is not None
        fake.google.token_ttl_s = 120
        credentials = GoogleCredentials(fake.credentials_file)
        await load_all({"vertex": credentials})
        first = credentials.token
        await kept_fresh(credentials, until=lambda: credentials.token != first)
        assert credentials.token != first


async def test_a_key_the_token_endpoint_does_not_know_is_unavailable(tmp_path: Path) -> None:
    async with FakeProvider("vertex") as fake, FakeProvider("vertex") as other:
        assert fake.google is not None and other.credentials_file is not None
        # A valid key file, signed by a key only the other fake knows.
        info = json.loads(other.credentials_file.read_text())
        stranger = tmp_path / "stranger.json"
        stranger.write_text(json.dumps(info | {"token_uri": fake.token_uri}))
        reasons = await load_all({"vertex": GoogleCredentials(stranger)})
    assert "invalid_grant" in reasons["vertex"]
    assert "PRIVATE KEY" not in reasons["vertex"]


async def test_an_unreadable_key_file_is_unavailable_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    reasons = await load_all(
        {"a": GoogleCredentials(broken), "b": GoogleCredentials(tmp_path / "absent.json")}
    )
    assert set(reasons) == {"a", "b"}
    assert str(broken) in reasons["a"]


def test_google_expiry_is_read_in_utc() -> None:
    # google-auth keeps expiry as naive UTC; a local-time comparison would be off by hours.
    credentials = GoogleCredentials()
    credentials._expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=4)
    assert credentials.refresh_due()
    credentials._expiry = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=30)
    assert not credentials.refresh_due()
