"""Our witness's cosignatures open with the reference Go code (tests/audit/interop/cosign):
golang.org/x/mod/sumdb/note for the log's signature, transparency-dev/formats for the
C2SP cosignature/v1, both from the Go module proxy at the versions go.mod pins."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policy_engine.audit import Cosigner, NoteSigner, sign_note

PROGRAM = Path(__file__).resolve().parent / "interop" / "cosign"
BODY = "example.com/llm-app/audit/llm-app-0\n42\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
TIME = 1727964367


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("go") is None:
        pytest.fail("Go is needed for the interop test (it is on the build machine)")
    binary = tmp_path_factory.mktemp("go") / "cosign"
    subprocess.run(
        ["go", "build", "-mod=mod", "-o", str(binary), "."],
        cwd=PROGRAM,
        check=True,
        timeout=600,
        capture_output=True,
    )
    return binary


def open_with_go(
    reference: Path, tmp_path: Path, note: str, log: NoteSigner, witness: Cosigner
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "note"
    path.write_text(note)
    return subprocess.run(
        [str(reference), str(path), log.verifier.verifier_key(), witness.verifier.verifier_key()],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def log() -> NoteSigner:
    return NoteSigner("example.com/llm-app/audit/llm-app-0", Ed25519PrivateKey.generate())


@pytest.fixture
def witness() -> Cosigner:
    return Cosigner("witness.example.com/w1", Ed25519PrivateKey.generate())


def test_go_verifies_the_log_signature_and_the_cosignature_with_its_time(
    reference: Path, tmp_path: Path, log: NoteSigner, witness: Cosigner
) -> None:
    cosigned = witness.cosign(sign_note(BODY, [log]), TIME)
    result = open_with_go(reference, tmp_path, cosigned, log, witness)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"verified {log.name} {log.key_hash.hex()}",
        f"verified {witness.name} {witness.verifier.key_hash.hex()} time {TIME}",
    ]


def test_go_refuses_a_cosignature_over_another_checkpoint(
    reference: Path, tmp_path: Path, log: NoteSigner, witness: Cosigner
) -> None:
    cosigned = witness.cosign(sign_note(BODY, [log]), TIME)
    other = witness.cosign(sign_note(BODY.replace("\n42\n", "\n43\n"), [log]), TIME)
    forged = cosigned.rsplit("\n", 2)[0] + "\n" + other.rsplit("\n", 2)[1] + "\n"
    result = open_with_go(reference, tmp_path, forged, log, witness)
    assert result.returncode == 1
    assert "invalid signature" in result.stderr or "verification failure" in result.stderr
