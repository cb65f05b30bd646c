"""What a verifier pins: the origin (the signature's key name and the body's first line)
and the keys; an origin that cannot be a signed-note key name is refused at config load."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine._config import load_config
from policy_engine._errors import ConfigError
from policy_engine.audit import (
    DEFAULT_ORIGIN,
    AuditSettings,
    CheckpointError,
    LogTrust,
    NoteError,
    NoteSigner,
    NoteVerifier,
    open_checkpoint,
    sign_note,
)
from tests.test_config import valid_config

KEY = Ed25519PrivateKey.generate()
ROOT = base64.b64encode(bytes(32)).decode()


def checkpoint(body_origin: str, key_name: str) -> bytes:
    return sign_note(f"{body_origin}\n3\n{ROOT}\n", [NoteSigner(key_name, KEY)]).encode()


def pinned(origin: str = DEFAULT_ORIGIN) -> LogTrust:
    return LogTrust(origin, (KEY.public_key(),))


def test_a_checkpoint_signed_under_the_pinned_origin_opens() -> None:
    opened = pinned().open_checkpoint(checkpoint(DEFAULT_ORIGIN, DEFAULT_ORIGIN))
    assert (opened.origin, opened.size) == (DEFAULT_ORIGIN, 3)


def test_a_trusted_keys_checkpoint_for_another_origin_is_refused() -> None:
    with pytest.raises(NoteError, match=r"trusted key named policy-engine/audit .*staging/audit"):
        pinned().open_checkpoint(checkpoint("staging/audit", "staging/audit"))


def test_a_body_naming_another_origin_is_refused_even_under_the_pinned_key_name() -> None:
    with pytest.raises(CheckpointError, match="'staging/audit' is not the pinned origin"):
        pinned().open_checkpoint(checkpoint("staging/audit", DEFAULT_ORIGIN))


def test_a_body_naming_the_pinned_origin_signed_under_another_key_name_is_refused() -> None:
    with pytest.raises(NoteError, match="no signature"):
        pinned().open_checkpoint(checkpoint(DEFAULT_ORIGIN, "staging/audit"))


def test_bare_keys_pin_the_default_origin() -> None:
    with pytest.raises(NoteError):
        open_checkpoint(checkpoint("staging/audit", "staging/audit"), [KEY.public_key()])


def test_verifier_keys_pin_their_name_as_the_origin() -> None:
    vkey = NoteVerifier("example.test/log", KEY.public_key()).verifier_key()
    trust = LogTrust.from_verifier_keys([vkey])
    assert trust.origin == "example.test/log"
    assert trust.open_checkpoint(checkpoint("example.test/log", "example.test/log")).size == 3
    with pytest.raises(NoteError):
        trust.open_checkpoint(checkpoint(DEFAULT_ORIGIN, DEFAULT_ORIGIN))


def test_verifier_keys_for_two_origins_are_refused() -> None:
    keys = [NoteVerifier(name, KEY.public_key()).verifier_key() for name in ("a.test", "b.test")]
    with pytest.raises(NoteError, match="2 origins"):
        LogTrust.from_verifier_keys(keys)


@pytest.mark.parametrize(
    "origin",
    ["", "has space", "has+plus", " leading", "trailing ", "bell\x07", "nbsp\u00a0x", "del\x7f"],
    ids=["empty", "space", "plus", "leading", "trailing", "control", "nbsp", "del"],
)
def test_an_origin_that_is_not_a_key_name_is_refused_by_the_settings(origin: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        AuditSettings(dir=Path("/log"), signing_key_file=Path("/key"), origin=origin)


def test_an_origin_with_a_control_character_stops_the_config_from_loading(
    tmp_path: Path,
) -> None:
    raw = valid_config()
    raw["audit"]["origin"] = "example.test/log\x07"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))  # written as an escape: "\a" in YAML
    with pytest.raises(ConfigError, match=r"audit\.origin: .*control character \(U\+0007\)"):
        load_config(path)
