"""Go's reference code agrees with the log: `interop/main.go` (golang.org/x/mod/sumdb/note
and sumdb/tlog, pinned in interop/go.mod) derives the same verifier key, opens every
checkpoint with note.Open, recomputes every root with tlog.TreeHash, and checks the
inclusion and consistency proofs `audit prove` prints with tlog.CheckRecord and
tlog.CheckTree; it refuses what our verifier refuses.

The program is built with `go build` into a temporary directory; Go's build and module
caches make every build after the first take well under a second.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from policy_engine.audit import (
    AuditSettings,
    NoteSigner,
    NoteVerifier,
    load_private_key,
    prove_consistency,
    prove_request,
    sign_note,
    write_key_pair,
)
from tests.audit._writing import append, intent, open_writer, outcome

INTEROP = Path(__file__).resolve().parent / "interop"
ORIGIN = "example.test/audit"


@pytest.fixture(scope="session")
def interop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: the interop test needs `go` on PATH")
    binary = tmp_path_factory.mktemp("interop") / "interop"
    # The pinned go.sum is the only source of truth: never edit it, never fetch a newer Go.
    env = {**os.environ, "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": "local"}
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=INTEROP,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if built.returncode != 0:
        pytest.fail(f"go build of {INTEROP} failed:\n{built.stderr}")
    return binary


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> AuditSettings:
    """A log of 23 records over several segments, with 5 checkpoints, under ORIGIN."""
    root = tmp_path_factory.mktemp("go-log")
    private, _ = write_key_pair(root / "keys", Ed25519PrivateKey.generate())
    settings = AuditSettings(
        dir=root / "log",
        signing_key_file=private,
        origin=ORIGIN,
        checkpoint_every_records=5,
        segment_max_bytes=2000,
    )
    records = []
    for i in range(11):
        records += [intent(f"req-{i}"), outcome(f"req-{i}", 2 * i)]
    with open_writer(settings) as writer:
        append(writer, [*records, intent("interrupted")])
    return settings


def vkey(settings: AuditSettings) -> str:
    key = load_private_key(settings.signing_key_file).public_key()
    return NoteVerifier(settings.origin, key).verifier_key()


def go(binary: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *map(str, args)], capture_output=True, text=True, timeout=60
    )


def notes(settings: AuditSettings) -> list[Path]:
    return sorted((settings.dir / "checkpoints").glob("*.note"))


def test_go_derives_the_same_verifier_key(interop: Path, log: AuditSettings) -> None:
    public = load_private_key(log.signing_key_file).public_key()
    raw = base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
    derived = go(interop, "vkey", ORIGIN, raw)
    assert (derived.returncode, derived.stdout.strip()) == (0, vkey(log))


def test_go_opens_every_checkpoint_and_recomputes_every_root(
    interop: Path, log: AuditSettings
) -> None:
    assert len(notes(log)) == 5
    assert len(list(log.dir.glob("segment-*.jsonl"))) > 2
    checked = go(interop, "log", log.dir, vkey(log))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("ok: 5 checkpoints opened and their roots recomputed over 23")


@pytest.mark.parametrize("request_id", ["req-0", "req-7", "req-10"])
def test_go_checks_an_inclusion_proof_from_audit_prove(
    interop: Path, log: AuditSettings, tmp_path: Path, request_id: str
) -> None:
    bundle = tmp_path / "inclusion.json"
    bundle.write_text(json.dumps(prove_request(log.dir, request_id).to_json()))
    checked = go(interop, "inclusion", bundle, vkey(log))
    assert checked.returncode == 0, checked.stderr


def test_go_checks_every_consistency_proof_between_the_checkpoints(
    interop: Path, log: AuditSettings, tmp_path: Path
) -> None:
    proof_file = tmp_path / "consistency.json"
    for old, new in itertools.combinations(notes(log), 2):
        proof = prove_consistency(log.dir, int(old.stem), int(new.stem))
        proof_file.write_text(json.dumps(proof.to_json()))
        checked = go(interop, "consistency", old, new, proof_file, vkey(log))
        assert checked.returncode == 0, (old.name, new.name, checked.stderr)


def test_go_refuses_a_tampered_consistency_proof(
    interop: Path, log: AuditSettings, tmp_path: Path
) -> None:
    old, new = notes(log)[1], notes(log)[-1]
    data = prove_consistency(log.dir, int(old.stem), int(new.stem)).to_json()
    data["proof"][0] = base64.b64encode(bytes(32)).decode()
    proof_file = tmp_path / "consistency.json"
    proof_file.write_text(json.dumps(data))
    assert go(interop, "consistency", old, new, proof_file, vkey(log)).returncode == 1


def test_go_refuses_a_checkpoint_signed_by_the_key_under_another_origin(
    interop: Path, log: AuditSettings, tmp_path: Path
) -> None:
    key = load_private_key(log.signing_key_file)
    body = notes(log)[-1].read_text().split("\n\n")[0] + "\n"
    staging = tmp_path / "staging.note"
    staging.write_text(
        sign_note(body.replace(ORIGIN, "staging/audit"), [NoteSigner("staging/audit", key)])
    )
    refused = go(interop, "open", staging, vkey(log))
    assert (refused.returncode, "no verifiable signatures" in refused.stderr) == (1, True)


def test_go_refuses_a_note_with_crlf_line_endings(
    interop: Path, log: AuditSettings, tmp_path: Path
) -> None:
    crlf = tmp_path / "crlf.note"
    crlf.write_bytes(notes(log)[-1].read_bytes().replace(b"\n", b"\r\n"))
    refused = go(interop, "open", crlf, vkey(log))
    assert (refused.returncode, "malformed note" in refused.stderr) == (1, True)
