"""AWS credentials for Bedrock: botocore's own chain, and SigV4 by botocore's own signer.

The chain is botocore's: environment variables, the shared config and credentials
files (a named `profile`, its role and SSO settings), a web identity token (EKS
service accounts: AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN), container and instance
credentials. botocore reads its own environment variables; the sidecar's config
names only the profile and the region.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials, RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.session import Session

from adapters._cloud_auth import CredentialsUnavailable, unavailable

SIGNING_NAME = "bedrock"  # bedrock-runtime's signing name (its service model says so)
_ERRORS = (BotoCoreError, ClientError, OSError, ValueError)


class AwsCredentials:
    """One provider's AWS credentials: resolved and refreshed off the event loop;
    `sign` reads only the frozen copy kept here."""

    def __init__(self, region: str, profile: str | None = None) -> None:
        self.region = region
        self._profile = profile
        self._source: Credentials | None = None
        self._frozen: ReadOnlyCredentials | None = None

    def load(self) -> None:
        where = f"AWS credentials (profile {self._profile})" if self._profile else "AWS credentials"
        try:
            session = Session(profile=self._profile)
            # STS calls for a web identity or a role go to this region's endpoint.
            session.set_config_variable("region", self.region)
            source = session.get_credentials()
            if source is None:
                raise CredentialsUnavailable(
                    f"{where}: none found (environment, shared profile, web identity, "
                    "container or instance role)"
                )
            frozen = source.get_frozen_credentials()
        except _ERRORS as error:
            raise unavailable(where, error) from None
        self._source, self._frozen = source, frozen

    def refresh_due(self) -> bool:
        # botocore's advisory window: 15 minutes before expiry.
        source = self._source
        return isinstance(source, RefreshableCredentials) and source.refresh_needed()

    def refresh(self) -> None:
        if self._source is None:
            self.load()
            return
        try:
            # Refreshes within botocore's advisory window (keeping the old credentials
            # if that fails), and must succeed within its mandatory one.
            self._frozen = self._source.get_frozen_credentials()
        except _ERRORS as error:
            raise unavailable("AWS credentials refresh", error) from None

    @property
    def access_key_id(self) -> str | None:
        """Not a secret (it names the key); for logs and tests."""
        return self._frozen.access_key if self._frozen is not None else None

    def secrets(self) -> tuple[str, ...]:
        """What must never be shown: the secret key and the session token."""
        frozen = self._frozen
        if frozen is None:
            return ()
        return tuple(s for s in (frozen.secret_key, frozen.token) if s)

    def sign(self, url: str, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """`headers` plus X-Amz-Date, X-Amz-Security-Token (temporary credentials) and
        Authorization for a POST of `body` to `url` (whose host and port are signed)."""
        frozen = self._frozen
        if frozen is None:
            raise CredentialsUnavailable("AWS credentials were never loaded")
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, SIGNING_NAME, self.region).add_auth(request)
        items: Any = request.headers.items()
        return {str(name): str(value) for name, value in items}
