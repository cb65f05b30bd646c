"""`policy-engine keys generate` writes a usable key pair, the private half 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from policy_engine.audit import load_private_key, parse_verifier_key, record_key_id
from policy_engine.cli import main


def test_generate_writes_the_private_key_readable_by_the_owner_only(tmp_path: Path) -> None:
    assert main(["keys", "generate", "--out", str(tmp_path)]) == 0
    mode = stat.S_IMODE((tmp_path / "audit-signing-key.pem").stat().st_mode)
    assert mode == 0o600


def test_generate_prints_the_record_key_id_and_the_verifier_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "generate", "--out", str(tmp_path), "--origin", "example.test/log"])
    out = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    key = load_private_key(tmp_path / "audit-signing-key.pem")
    assert out["record key id"] == record_key_id(key.public_key())
    verifier = parse_verifier_key(out["checkpoint verifier key"])
    assert verifier.name == "example.test/log"
    assert verifier.key == key.public_key()


def test_generate_refuses_to_overwrite_an_existing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "generate", "--out", str(tmp_path)])
    before = (tmp_path / "audit-signing-key.pem").read_bytes()
    assert main(["keys", "generate", "--out", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "audit-signing-key.pem").read_bytes() == before
