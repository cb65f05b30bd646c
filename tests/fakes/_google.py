"""The fake Vertex AI's door: Google's OAuth token endpoint for service accounts, and
the bearer check on every call.

A test makes a service-account key (a fresh RSA key, in Google's JSON key format)
whose `token_uri` is this fake; google-auth signs a JWT assertion with it, the token
endpoint checks that signature with the key's public half (with `cryptography`, not
google-auth) and hands out an access token that expires; the API refuses a token it
did not issue or that has expired, with Google's 401.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes._dialect import Reply, json_reply

TOKEN_PATH = "/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# The assertion's audience is Google's token endpoint, wherever the key file sends it.
AUDIENCE = "https://oauth2.googleapis.com/token"
_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def google_error(code: int, status: str, message: str) -> Reply:
    return json_reply(code, {"error": {"code": code, "message": message, "status": status}})


def _unpadded(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _oauth_error(error: str, description: str) -> Reply:
    return json_reply(400, {"error": error, "error_description": description})


@dataclass
class BearerDoor:
    project: str
    token_ttl_s: int = 3600
    clock: Callable[[], float] = time.time
    accounts: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)  # client_email -> key
    tokens: dict[str, float] = field(default_factory=dict)  # access token -> expiry
    token_requests: int = 0
    refusals: list[str] = field(default_factory=list)

    def service_account(self, path: Path, token_uri: str, name: str = "policy-engine") -> Path:
        """Write a service-account key file for this fake; its tokens come from `token_uri`."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"{name}@{self.project}.iam.gserviceaccount.com"
        self.accounts[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }
        path.write_text(json.dumps(info))
        path.chmod(0o600)
        return path

    def expire_tokens(self) -> None:
        now = self.clock()
        self.tokens = dict.fromkeys(self.tokens, now - 1)

    def grant(self, body: bytes) -> Reply:
        """POST token_uri: grant_type=jwt-bearer&assertion=<RS256 JWT by the account>."""
        self.token_requests += 1
        form = parse_qs(body.decode(errors="replace"))
        if form.get("grant_type") != [_GRANT] or len(form.get("assertion", [])) != 1:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            head, claims_part, signature = form["assertion"][0].split(".")
            claims: dict[str, Any] = json.loads(_unpadded(claims_part))
            header = json.loads(_unpadded(head))
        except ValueError:
            return _oauth_error("invalid_grant", "Invalid JWT.")
        key = self.accounts.get(str(claims.get("iss")))
        if header.get("alg") != "RS256" or key is None:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        try:
            key.verify(
                _unpadded(signature),
                f"{head}.{claims_part}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        now = self.clock()
        if claims.get("aud") != AUDIENCE or SCOPE not in str(claims.get("scope", "")).split():
            return _oauth_error("invalid_scope", "Invalid audience or scope.")
        if not claims.get("iat", now + 1) <= now + 60 < claims.get("exp", 0) + 60:
            return _oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        token = f"ya29.fake-{secrets.token_urlsafe(32)}"
        self.tokens[token] = now + self.token_ttl_s
        return json_reply(
            200, {"access_token": token, "expires_in": self.token_ttl_s, "token_type": "Bearer"}
        )

    def refuse(self, authorization: str) -> Reply | None:
        token = authorization[7:] if authorization.startswith("Bearer ") else None
        expiry = self.tokens.get(token) if token else None
        if expiry is not None and self.clock() < expiry:
            return None
        self.refusals.append("expired" if expiry is not None else "unknown")
        return google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential. See "
            "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        )
