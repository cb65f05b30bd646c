"""The fake Bedrock's door: AWS credentials it knows, and the SigV4 check AWS makes.

The signature is recomputed with botocore's signer from the request as the fake
received it (method, raw path, the headers named as signed, the body) and the fake's
own copy of the secret key, so a request signed wrongly in any part (key, region,
service, host, path, body, date, token) is refused as AWS refuses it, with its error
shape. Expired temporary credentials get ExpiredTokenException.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes._dialect import Reply, json_reply

SERVICE = "bedrock"
# Synthetic long-term credentials every fake Bedrock accepts unless told otherwise.
ACCESS_KEY_ID = "AKIAFAKEBEDROCKTEST1"
SECRET_ACCESS_KEY = "fake/secret/access/key/for/tests/only00"
MAX_SKEW_S = 300  # AWS refuses a request signed more than 5 minutes away from its clock
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/,]+)/(?P<date>\d{8})/(?P<region>[^/,]+)/"
    r"(?P<service>[^/,]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


# botocore's chain reads these; a test sidecar gets the fakes' synthetic key and nothing
# from the machine's own AWS setup (files, profiles, instance metadata).
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED",
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
)  # fmt: skip


def aws_environment(home: str, **values: str) -> dict[str, str]:
    """Every variable of AWS_VARIABLES: the fakes' key (or `values`), files under `home`
    (absent unless a test writes them), instance metadata off; "" means unset."""
    env = dict.fromkeys(AWS_VARIABLES, "")
    env |= {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_CONFIG_FILE": f"{home}/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{home}/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return env | values


@dataclass
class AwsKey:
    secret: str
    token: str | None = None
    expires: float | None = None  # time.time(); None: long-term


def aws_error(status: int, code: str, message: str) -> Reply:
    return json_reply(
        status,
        {"message": message},
        {"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.coral.service/"},
    )


@dataclass
class SigV4Door:
    region: str
    keys: dict[str, AwsKey] = field(
        default_factory=lambda: {ACCESS_KEY_ID: AwsKey(SECRET_ACCESS_KEY)}
    )
    api_keys: set[str] = field(default_factory=set)  # Bedrock API keys (bearer tokens)
    clock: Callable[[], float] = time.time
    refusals: list[str] = field(default_factory=list)  # the error codes sent, in order

    def issue(self, ttl_s: float | None = 3600) -> tuple[str, str, str]:
        """Temporary credentials (key id, secret, session token), as STS hands them out."""
        key_id = "ASIA" + secrets.token_hex(8).upper()
        secret, token = secrets.token_urlsafe(30), secrets.token_urlsafe(60)
        self.keys[key_id] = AwsKey(secret, token, None if ttl_s is None else self.clock() + ttl_s)
        return key_id, secret, token

    def expire(self, key_id: str) -> None:
        self.keys[key_id].expires = self.clock() - 1

    def _refuse(self, status: int, code: str, message: str) -> Reply:
        self.refusals.append(code)
        return aws_error(status, code, message)

    def refuse(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> Reply | None:
        authorization = headers.get("authorization", "")
        if authorization.startswith("Bearer "):
            if authorization[7:] in self.api_keys:
                return None
            return self._refuse(
                403,
                "UnrecognizedClientException",
                "Invalid API Key format: Must start with pre-defined prefix",
            )
        if not authorization:
            return self._refuse(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        parts = _AUTH.match(authorization)
        if parts is None:
            return self._refuse(
                400,
                "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                "parameters.",
            )
        key = self.keys.get(parts["key"])
        if key is None:
            return self._refuse(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        amz_date = headers.get("x-amz-date", "")
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return self._refuse(
                400,
                "IncompleteSignatureException",
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                "header.",
            )
        if parts["date"] != amz_date[:8]:
            return self._refuse(
                403, "InvalidSignatureException", "Credential should be scoped to a valid date."
            )
        if parts["region"] != self.region:
            return self._refuse(
                403, "InvalidSignatureException", "Credential should be scoped to a valid region. "
            )
        if parts["service"] != SERVICE:
            return self._refuse(
                403,
                "InvalidSignatureException",
                f"Credential should be scoped to correct service: '{SERVICE}'. ",
            )
        if abs(self.clock() - signed_at.timestamp()) > MAX_SKEW_S:
            return self._refuse(
                403,
                "InvalidSignatureException",
                "Signature expired: is now earlier than or later than the request time (5 min).",
            )
        signed = parts["signature"]
        names = parts["signed"].split(";")
        if "host" not in names or "x-amz-date" not in names:
            return self._refuse(
                403, "InvalidSignatureException", "'Host' and 'X-Amz-Date' must be signed."
            )
        if key.token is not None:
            if (
                headers.get("x-amz-security-token") != key.token
                or "x-amz-security-token" not in names
            ):
                return self._refuse(
                    403,
                    "UnrecognizedClientException",
                    "The security token included in the request is invalid.",
                )
            if key.expires is not None and self.clock() >= key.expires:
                return self._refuse(
                    403,
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                )
        if any(name not in headers for name in names):
            return self._refuse(403, "InvalidSignatureException", "A signed header is missing.")
        request = AWSRequest(
            method=method,
            url=f"http://{headers['host']}{raw_path}",
            data=body,
            headers={name: headers[name] for name in names},
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(parts["key"], key.secret, key.token), SERVICE, self.region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, signed):
            return self._refuse(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service "
                "documentation for details.",
            )
        return None


class FakeSts:
    """AWS STS's AssumeRoleWithWebIdentity on loopback (the call an EKS pod's service
    account makes through botocore's chain): the web identity token must be the one the
    test wrote; the temporary credentials it hands out are issued by `door` (a fake
    Bedrock's), so the fake Bedrock knows them and when they expire."""

    def __init__(self, door: SigV4Door, web_identity_token: str, ttl_s: float = 3600) -> None:
        self.door = door
        self.web_identity_token = web_identity_token
        self.ttl_s = ttl_s
        self.issued: list[str] = []  # access key ids, in order
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> FakeSts:
        app = web.Application()
        app.router.add_post("/", self._assume)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _assume(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("Action") != "AssumeRoleWithWebIdentity":
            return web.Response(status=400, text="unexpected action")
        if form.get("WebIdentityToken") != self.web_identity_token:
            return web.Response(
                status=400,
                content_type="text/xml",
                text=_STS_ERROR.format(code="InvalidIdentityToken", message="Token is invalid"),
            )
        key_id, secret, token = self.door.issue(self.ttl_s)
        self.issued.append(key_id)
        expires = datetime.fromtimestamp(self.door.clock() + self.ttl_s, UTC)
        return web.Response(
            content_type="text/xml",
            text=_STS_ANSWER.format(
                key_id=key_id,
                secret=secret,
                token=token,
                expiration=expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                role=form.get("RoleArn"),
                session=form.get("RoleSessionName"),
            ),
        )


_STS_ANSWER = """<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:llm:policy-engine</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>{role}/{session}</Arn>
      <AssumedRoleId>AROAFAKE:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{key_id}</AccessKeyId>
      <SecretAccessKey>{secret}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expiration}</Expiration>
    </Credentials>
    <Provider>oidc.eks.eu-central-1.amazonaws.com/id/FAKE</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>fake-request</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""
_STS_ERROR = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>
  <RequestId>fake-request</RequestId>
</ErrorResponse>
"""
