"""Every aiohttp error is translated to a provider error kind, in one place."""

from __future__ import annotations

import inspect

import aiohttp
import pytest

from adapters import ProviderErrorKind
from policy_engine.routing import translate_error


def _client_errors() -> list[type[BaseException]]:
    return [
        obj
        for _, obj in inspect.getmembers(aiohttp)
        if inspect.isclass(obj) and issubclass(obj, aiohttp.ClientError)
    ]


def _instance(cls: type[BaseException]) -> BaseException:
    instance = cls.__new__(cls)
    BaseException.__init__(instance)
    return instance


@pytest.mark.parametrize("cls", _client_errors(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("mid_body", [False, True])
def test_every_aiohttp_client_error_is_a_retryable_failure(
    cls: type[BaseException], mid_body: bool
) -> None:
    # A transport failure says nothing about the request, so it must lead to a retry or
    # fallback, never be returned to the client as if the request were at fault.
    assert translate_error(_instance(cls), mid_body=mid_body).retryable


def test_timeouts_are_timeouts() -> None:
    assert translate_error(TimeoutError()).kind is ProviderErrorKind.TIMEOUT
    assert translate_error(_instance(aiohttp.ServerTimeoutError)).kind is ProviderErrorKind.TIMEOUT


def test_a_connection_cut_mid_body_is_an_interrupted_stream() -> None:
    error = translate_error(_instance(aiohttp.ClientPayloadError), mid_body=True)
    assert error.kind is ProviderErrorKind.STREAM_INTERRUPTED


def test_a_refused_connection_is_a_connection_error() -> None:
    assert translate_error(ConnectionRefusedError()).kind is ProviderErrorKind.CONNECTION
