"""Synthetic secrets and PII, and a hostile provider that echoes what it was sent."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiohttp import web

from tests.fakes import FakeProvider
from tests.sidecar import ProviderSpec


def _b64(document: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(document)).rstrip(b"=").decode()


# Every value is made up: reserved domains and numbers, card-network test numbers,
# the IBAN from the ISO 13616 example, keys that only look like keys.
PROVIDER_KEY = "sk-provider-SYNTHETIC-0000-leak-canary-7f3a"
CALLER_TOKEN = "caller-token-SYNTHETIC-0000-leak-canary-91c2"
JWT = (
    _b64({"alg": "HS256", "typ": "JWT"})
    + "."
    + _b64({"sub": "synthetic-user-42", "name": "Test Person"})
    + ".c3ludGhldGljLXNpZ25hdHVyZS1ub3QtcmVhbA"
)
PII = {
    "email": "ada.lovelace@example.com",
    "phone": "+44 20 7946 0958",
    "phone_us": "(415) 555-0132",
    "iban": "DE89 3704 0044 0532 0130 00",
    "card": "4111 1111 1111 1111",
    "ssn": "536-22-1234",
    "aws_key": "AKIAZ7SYNTHETIC0KEY2",
    "jwt": JWT,
    "sk_key": "sk-proj-SyntheticTestKey0123456789abcdefXYZ",
    "bearer": "syntheticBearerToken_0123456789abcdef",
}
PROMPT = (
    f"Write to {PII['email']} or call {PII['phone']} / {PII['phone_us']}. "
    f"IBAN {PII['iban']}, card {PII['card']}, SSN {PII['ssn']}. "
    f"Keys: {PII['aws_key']} {PII['sk_key']} token {PII['jwt']} "
    f"Authorization: Bearer {PII['bearer']}"
)
# Also the digits of the card and IBAN without spaces, as a careless log might hold them.
NEEDLES = (
    *PII.values(),
    PII["card"].replace(" ", ""),
    PII["iban"].replace(" ", ""),
    PROVIDER_KEY,
    CALLER_TOKEN,
)
KEY_ENV = "SECURITY_TEST_PROVIDER_KEY"


class KeyedSpec(ProviderSpec):
    """A provider whose key comes from `KEY_ENV`, so the key is distinctive."""

    def config(self) -> dict[str, Any]:
        return {**super().config(), "api_key_env": KEY_ENV}


async def _echo(request: web.Request) -> web.Response:
    body = (await request.read()).decode(errors="replace")
    message = f"Invalid request {body} sent with {request.headers.get('Authorization', '')}"
    status = 500 if "echo-500" in body else 400
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return web.json_response({"error": error}, status=status)


@asynccontextmanager
async def echoing_provider() -> AsyncIterator[str]:
    """An OpenAI-style provider that rejects every request, echoing its body and key."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


class UrlSpec(ProviderSpec):
    """A provider at a fixed URL (not a FakeProvider), serving the aliases it is given."""

    def __init__(self, id: str, base_url: str, models: dict[str, str]) -> None:
        super().__init__(id, FakeProvider("openai"), {"residency": "eu"}, models, priority=50)
        self.base_url = base_url

    def config(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "adapter": "openai",
            "base_url": self.base_url,
            "api_key_env": KEY_ENV,
            "models": self.models,
            "priority": self.priority,
            "attributes": self.attributes,
        }
