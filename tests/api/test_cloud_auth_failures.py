"""A signing bug or an expired credential is caught by the cloud fake, never answered:
the attempt fails as `auth`, the request falls back, the audit record says so.

Each broken signer below breaks the codec's side only (the fakes recompute signatures
with their own, unbroken, botocore signer); each test also sends the same request
with the real signer first, so it shows the fake accepts what is right.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth

import adapters._bedrock_auth
from adapters import (
    AwsCredentials,
    GoogleCredentials,
    ProviderErrorKind,
    load_all,
    provider_codec,
)
from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec, RunningSidecar, build_settings, start_sidecar

HEADERS = {"X-Tenant-ID": "sandbox"}
BODY = {"model": "default", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
async def cloud() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("bedrock", name="bedrock") as fake:
        yield fake


@pytest.fixture
async def backup() -> AsyncIterator[FakeProvider]:
    async with FakeProvider("anthropic", name="backup", reply="from backup") as fake:
        yield fake


async def serve(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    first: FakeProvider,
    backup: FakeProvider,
    aws: dict[str, str] | None = None,
) -> RunningSidecar:
    models = {"default": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    if first.protocol == "vertex":
        models = {"default": "claude-sonnet-4-5@20250929"}
    settings = build_settings(
        tmp_path,
        [
            ProviderSpec("cloud", first, models=models, priority=1),
            ProviderSpec("backup", backup, priority=2),
        ],
    )
    return await start_sidecar(settings, monkeypatch, aws)


async def ask(running: RunningSidecar) -> httpx.Response:
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        return await http.post("/v1/chat/completions", json=BODY, headers=HEADERS)


def attempts(running: RunningSidecar) -> list[tuple[str, str]]:
    return [(a["provider"], a["outcome"]) for a in running.audit_events()[-1]["attempts"]]


class WrongSecret(SigV4Auth):
    def __init__(self, credentials: Any, service: str, region: str) -> None:
        super().__init__(
            type(credentials)(credentials.access_key, "not-the-secret", credentials.token),
            service,
            region,
        )


class WrongService(SigV4Auth):
    def __init__(self, credentials: Any, service: str, region: str) -> None:
        super().__init__(credentials, "bedrock-runtime", region)  # the endpoint's prefix, a classic


class WrongRegion(SigV4Auth):
    def __init__(self, credentials: Any, service: str, region: str) -> None:
        super().__init__(credentials, service, "eu-west-1")


def signs_another_body(sign: Callable[..., dict[str, str]]) -> Callable[..., dict[str, str]]:
    def broken(
        self: AwsCredentials, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        return sign(self, url, headers, body.replace(b"Hi", b"Ho"))

    return broken


def drops_the_date(sign: Callable[..., dict[str, str]]) -> Callable[..., dict[str, str]]:
    def broken(
        self: AwsCredentials, url: str, headers: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        signed = sign(self, url, headers, body)
        signed["X-Amz-Date"] = "20200101T000000Z"
        return signed

    return broken


SIGNER_BUGS: dict[str, Callable[[pytest.MonkeyPatch], None]] = {
    "wrong secret": lambda m: m.setattr(adapters._bedrock_auth, "SigV4Auth", WrongSecret),
    "wrong service": lambda m: m.setattr(adapters._bedrock_auth, "SigV4Auth", WrongService),
    "wrong region": lambda m: m.setattr(adapters._bedrock_auth, "SigV4Auth", WrongRegion),
    "body changed after signing": lambda m: m.setattr(
        AwsCredentials, "sign", signs_another_body(AwsCredentials.sign)
    ),
    "date changed after signing": lambda m: m.setattr(
        AwsCredentials, "sign", drops_the_date(AwsCredentials.sign)
    ),
}
REFUSED_AS = {
    "wrong secret": "InvalidSignatureException",
    "wrong service": "InvalidSignatureException",
    "wrong region": "InvalidSignatureException",
    "body changed after signing": "InvalidSignatureException",
    "date changed after signing": "InvalidSignatureException",
}


@pytest.mark.parametrize("bug", list(SIGNER_BUGS))
async def test_a_broken_sigv4_signer_is_refused_by_the_fake_and_the_request_falls_back(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cloud: FakeProvider,
    backup: FakeProvider,
    bug: str,
) -> None:
    running = await serve(tmp_path, monkeypatch, cloud, backup)
    try:
        good = await ask(running)
        assert good.headers["x-routed-provider"] == "cloud"
        SIGNER_BUGS[bug](monkeypatch)
        broken = await ask(running)
    finally:
        await running.stop()
    assert cloud.aws is not None and cloud.aws.refusals == [REFUSED_AS[bug]]
    assert broken.status_code == 200
    assert broken.headers["x-routed-provider"] == "backup"
    assert attempts(running)[0] == ("cloud", "auth")


async def test_expired_temporary_aws_credentials_are_refused_as_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: FakeProvider, backup: FakeProvider
) -> None:
    assert cloud.aws is not None
    key_id, secret, token = cloud.aws.issue(ttl_s=3600)
    aws = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": token}
    running = await serve(tmp_path, monkeypatch, cloud, backup, aws)
    try:
        assert (await ask(running)).headers["x-routed-provider"] == "cloud"
        cloud.aws.expire(key_id)
        after = await ask(running)
    finally:
        await running.stop()
    assert cloud.aws.refusals == ["ExpiredTokenException"]
    assert after.headers["x-routed-provider"] == "backup"
    assert attempts(running)[0] == ("cloud", "auth")


async def test_a_session_token_left_off_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: FakeProvider, backup: FakeProvider
) -> None:
    assert cloud.aws is not None
    key_id, secret, _ = cloud.aws.issue(ttl_s=3600)
    aws = {"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret}
    running = await serve(tmp_path, monkeypatch, cloud, backup, aws)
    try:
        response = await ask(running)
    finally:
        await running.stop()
    assert cloud.aws.refusals == ["UnrecognizedClientException"]
    assert response.headers["x-routed-provider"] == "backup"


@pytest.mark.parametrize("how", ["expired", "unknown"])
async def test_a_vertex_token_that_expired_or_was_never_issued_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backup: FakeProvider, how: str
) -> None:
    async with FakeProvider("vertex", name="vertex") as vertex, FakeProvider("vertex") as other:
        assert vertex.google is not None and other.google is not None
        if how == "unknown":
            # The other fake's key: a token the first never issued.
            monkeypatch.setattr(vertex, "credentials_file", other.credentials_file)
        running = await serve(tmp_path, monkeypatch, vertex, backup)
        try:
            if how == "expired":
                assert (await ask(running)).headers["x-routed-provider"] == "cloud"
                vertex.google.expire_tokens()
            response = await ask(running)
        finally:
            await running.stop()
        assert vertex.google.refusals == [how]
    assert response.headers["x-routed-provider"] == "backup"
    assert attempts(running)[0] == ("cloud", "auth")


async def test_a_bedrock_provider_without_credentials_is_never_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cloud: FakeProvider, backup: FakeProvider
) -> None:
    aws = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    running = await serve(tmp_path, monkeypatch, cloud, backup, aws)
    try:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            ready = (await http.get("/readyz")).json()
        response = await ask(running)
    finally:
        await running.stop()
    assert ready["providers_not_ready"] == {"cloud": "no_credentials"}
    assert response.headers["x-routed-provider"] == "backup"
    assert cloud.received == []
    assert running.audit_events()[-1]["skipped"] == {"cloud": "no_credentials"}


async def test_a_vertex_error_that_echoes_the_bearer_token_does_not_pass_it_on() -> None:
    async with FakeProvider("vertex") as vertex:
        assert vertex.credentials_file is not None
        credentials = GoogleCredentials(vertex.credentials_file)
        assert await load_all({"v": credentials}) == {}
        codec = provider_codec("vertex", credentials)
        echo = {
            "code": 401,
            "message": f"bad token {credentials.token}",
            "status": "UNAUTHENTICATED",
        }
        error = codec.decode_error(401, {}, json.dumps({"error": echo}).encode())
    assert error.kind is ProviderErrorKind.AUTH
    assert credentials.token not in error.message
    assert "[redacted]" in error.message


def test_a_bedrock_error_that_echoes_the_session_token_does_not_pass_it_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ASIAECHOTEST00000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "echo-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "echo-session-token-value")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    credentials = AwsCredentials("eu-central-1")
    credentials.load()
    codec = provider_codec("bedrock", credentials)
    body = b'{"message": "token echo-session-token-value is not valid"}'
    error = codec.decode_error(403, {"x-amzn-errortype": "UnrecognizedClientException"}, body)
    assert "echo-session-token-value" not in error.message
