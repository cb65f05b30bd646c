"""Google access tokens for Vertex AI, from google-auth.

A service-account key file when the config names one; otherwise Application Default
Credentials, google-auth's own chain: GOOGLE_APPLICATION_CREDENTIALS (a key, or a
workload identity federation config), gcloud's user credentials, and the metadata
server (GKE workload identity, Compute Engine). google-auth reads its own
environment variables; the sidecar's config names only the file.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import google.auth
from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from adapters._cloud_auth import CredentialsUnavailable, unavailable

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
# Refreshed this long before expiry: more than google-auth's own threshold (3m45s), so
# a token is never sent in the minutes google-auth already counts as expired.
REFRESH_MARGIN = datetime.timedelta(minutes=5)
_ERRORS = (GoogleAuthError, OSError, ValueError, KeyError)


def _utcnow() -> datetime.datetime:
    # google-auth keeps expiry as a naive UTC datetime.
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class GoogleCredentials:
    """One provider's Google credentials: tokens fetched and refreshed off the event
    loop; `token` reads only the copy kept here."""

    def __init__(self, credentials_file: Path | None = None) -> None:
        self._file = credentials_file
        self._source: Credentials | None = None
        self._token: str | None = None
        self._expiry: datetime.datetime | None = None

    def _what(self) -> str:
        return f"Google credentials ({self._file})" if self._file else "Google credentials (ADC)"

    def load(self) -> None:
        try:
            if self._file is not None:
                source: Credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    str(self._file), scopes=SCOPES
                )
            else:
                source, _ = google.auth.default(scopes=SCOPES)
        except _ERRORS as error:
            raise unavailable(self._what(), error) from None
        self._source = source
        self.refresh()

    def refresh_due(self) -> bool:
        expiry = self._expiry
        return expiry is not None and expiry - _utcnow() < REFRESH_MARGIN

    def refresh(self) -> None:
        source = self._source
        if source is None:
            self.load()
            return
        try:
            source.refresh(Request())  # type: ignore[no-untyped-call]
        except _ERRORS as error:
            raise unavailable(f"{self._what()} refresh", error) from None
        token = source.token
        if not isinstance(token, str) or not token:
            raise CredentialsUnavailable(f"{self._what()}: the token endpoint gave no token")
        self._token, self._expiry = token, source.expiry

    @property
    def token(self) -> str:
        token = self._token
        if token is None:
            raise CredentialsUnavailable(f"{self._what()} were never loaded")
        return token

    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()
