"""Cloud credentials a codec signs with (AWS for Bedrock, Google for Vertex AI).

The credential libraries (botocore, google-auth) fetch and refresh over blocking HTTP:
from the environment, a shared profile, a web identity token (a Kubernetes service
account), a metadata server or a token endpoint. None of that may run on the event
loop, so a holder is loaded and refreshed in a worker thread, and a codec only reads
the copy it keeps (a few attribute reads, no I/O), on every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Protocol

# How often a holder is asked whether its credentials near their expiry. The libraries
# refresh well before it (botocore 15 minutes, ours for Google 5), so a check every
# half minute refreshes ahead of expiry with minutes to spare.
POLL_S = 30.0
# Longest wait for one provider's credentials at startup (a metadata server that does
# not answer); past it the provider is left out of routes, as one without its key.
LOAD_TIMEOUT_S = 30.0
_MAX_REASON = 300


class CredentialsUnavailable(Exception):
    """No credentials could be had; the message says why, never a secret."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CloudCredentials(Protocol):
    def load(self) -> None:
        """Resolve the credential chain and fetch the first credentials (blocking I/O);
        raise CredentialsUnavailable."""
        ...

    def refresh_due(self) -> bool:
        """Whether the credentials near their expiry (no I/O)."""
        ...

    def refresh(self) -> None:
        """Fetch fresh credentials (blocking I/O); the old ones stay in use on failure."""
        ...


def unavailable(what: str, error: BaseException) -> CredentialsUnavailable:
    """The libraries' own messages name files, profiles and variables, not secrets."""
    detail = str(error).strip().replace("\n", " ")[:_MAX_REASON]
    return CredentialsUnavailable(f"{what}: {type(error).__name__}: {detail}")


async def load_all(
    credentials: Mapping[str, CloudCredentials], timeout_s: float = LOAD_TIMEOUT_S
) -> dict[str, str]:
    """Load every holder in worker threads, together; provider id -> why, for each that
    could not be loaded (those providers are never called)."""

    async def one(holder: CloudCredentials) -> str | None:
        try:
            await asyncio.wait_for(asyncio.to_thread(holder.load), timeout_s)
        except CredentialsUnavailable as error:
            return error.message
        except TimeoutError:
            return f"no credentials within {timeout_s:g}s"
        return None

    ids = list(credentials)
    reasons = await asyncio.gather(*(one(credentials[i]) for i in ids))
    return {i: reason for i, reason in zip(ids, reasons, strict=True) if reason is not None}


async def keep_fresh(
    holder: CloudCredentials,
    on_error: Callable[[CredentialsUnavailable], None],
    poll_s: float = POLL_S,
) -> None:
    """Refresh `holder` in a worker thread whenever it nears expiry, until cancelled.
    A failed refresh is reported and tried again at the next check."""
    while True:
        await asyncio.sleep(poll_s)
        if holder.refresh_due():
            try:
                await asyncio.to_thread(holder.refresh)
            except CredentialsUnavailable as error:
                on_error(error)
