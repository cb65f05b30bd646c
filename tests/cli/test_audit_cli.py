"""`policy-engine audit verify|prove|check-proof|show`, in-process and as a real command."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policy_engine.audit import (
    AuditLog,
    AuditSettings,
    InclusionBundle,
    NoteSigner,
    check_inclusion_bundle,
    load_private_key,
    load_public_key,
    sign_note,
)
from policy_engine.cli import main

EVENTS: list[dict[str, Any]] = [
    {
        "request_id": "req-a",
        "tenant": "acme-eu",
        "outcome": "answered",
        "attempts": [{"provider": "mistral-eu", "outcome": "ok", "status": 200, "latency_ms": 8.5}],
    },
    {
        "request_id": "req-b",
        "tenant": "acme-eu",
        "outcome": "all_failed",
        "attempts": [
            {"provider": "mistral-eu", "outcome": "rate_limited", "status": 429, "latency_ms": 3.0},
            {"provider": "azure-eu", "outcome": "server_error", "status": 503, "latency_ms": 4.0},
        ],
    },
    {"request_id": "req-c", "tenant": "globex-us", "outcome": "denied", "attempts": []},
    {
        "request_id": "req-d",
        "tenant": "globex-us",
        "outcome": "answered",
        "attempts": [{"provider": "openai-us", "outcome": "ok", "status": 200, "latency_ms": 9.0}],
    },
]


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    assert main(["keys", "generate", "--out", str(tmp_path / "keys")]) == 0
    return tmp_path / "keys"


@pytest.fixture
def public_pem(keys: Path) -> str:
    return str(keys / "audit-signing-key.pub.pem")


@pytest.fixture
def log_dir(tmp_path: Path, keys: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    settings = AuditSettings(dir=tmp_path / "log", signing_key_file=keys / "audit-signing-key.pem")

    async def fill() -> None:
        log = await AuditLog.open(settings)
        for event in EVENTS:
            await log.append(event)
        await log.close()

    asyncio.run(fill())
    capsys.readouterr()  # drop the key generation output
    return settings.dir


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_verify_exits_0_for_an_intact_log(
    log_dir: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "verify", str(log_dir), "--public-key", public_pem)
    assert code == 0
    assert out.startswith("OK: 4 records")


def test_verify_names_the_first_bad_record_and_exits_1(
    log_dir: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    segment = log_dir / "segment-00000001.jsonl"
    segment.write_bytes(segment.read_bytes().replace(b"globex-us", b"globex-eu", 1))
    code, _, err = run(capsys, "audit", "verify", str(log_dir), "--public-key", public_pem)
    assert code == 1
    assert err.startswith("FAIL segment-00000001.jsonl line 3 (seq 2): signature does not verify")


def test_verify_with_a_held_checkpoint_detects_truncation(
    log_dir: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = tmp_path / "held.note"
    held.write_bytes((log_dir / "checkpoints" / f"{4:020d}.note").read_bytes())
    for note in (log_dir / "checkpoints").iterdir():
        note.unlink()
    segment = log_dir / "segment-00000001.jsonl"
    segment.write_bytes(b"".join(segment.read_bytes().splitlines(keepends=True)[:3]))
    argv = ["audit", "verify", str(log_dir), "--public-key", public_pem]
    assert run(capsys, *argv)[0] == 0
    code, _, err = run(capsys, *argv, "--checkpoint", str(held))
    assert code == 1
    assert f"FAIL {held}: commits to 4 records but the log holds 3" in err


def test_verify_with_an_unreadable_key_exits_2(
    log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.pem")
    code, _, err = run(capsys, "audit", "verify", str(log_dir), "--public-key", missing)
    assert (code, err.startswith("error: cannot read public key")) == (2, True)


def test_prove_prints_a_proof_that_checks_against_the_public_key(
    log_dir: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "prove", str(log_dir), "--request-id", "req-c")
    assert code == 0
    bundle = InclusionBundle.from_json(json.loads(out))
    assert (bundle.leaf_index, bundle.tree_size) == (2, 4)
    record = check_inclusion_bundle(bundle, [load_public_key(Path(public_pem))])
    assert record.event["request_id"] == "req-c"


def test_prove_an_unknown_request_exits_1(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "audit", "prove", str(log_dir), "--request-id", "nope")
    assert (code, "no record for request id 'nope'" in err) == (1, True)


def _proof_file(log_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    _, out, _ = run(capsys, "audit", "prove", str(log_dir), "--request-id", "req-b")
    path = tmp_path / "proof.json"
    path.write_text(out)
    return path


def test_check_proof_accepts_a_proof_from_prove(
    log_dir: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = _proof_file(log_dir, tmp_path, capsys)
    code, out, _ = run(capsys, "audit", "check-proof", str(proof), "--public-key", public_pem)
    assert code == 0
    assert out.startswith("OK: record seq 1 (request req-b)")


def test_check_proof_rejects_an_edited_record(
    log_dir: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = _proof_file(log_dir, tmp_path, capsys)
    data = json.loads(proof.read_text())
    data["record"] = data["record"].replace("all_failed", "answered")
    proof.write_text(json.dumps(data))
    code, _, err = run(capsys, "audit", "check-proof", str(proof), "--public-key", public_pem)
    assert (code, err.strip()) == (1, "FAIL: the record does not hash to the proof's leaf hash")


def test_check_proof_rejects_a_wrong_proof_hash(
    log_dir: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = _proof_file(log_dir, tmp_path, capsys)
    data = json.loads(proof.read_text())
    data["proof"][0] = data["leaf_hash"]
    proof.write_text(json.dumps(data))
    code, _, err = run(capsys, "audit", "check-proof", str(proof), "--public-key", public_pem)
    assert (code, err.startswith("FAIL: root mismatch")) == (1, True)


def _shown(capsys: pytest.CaptureFixture[str], log_dir: Path, *filters: str) -> list[str]:
    code, out, _ = run(capsys, "audit", "show", str(log_dir), "--json", *filters)
    assert code == 0
    return [json.loads(line)["event"]["request_id"] for line in out.splitlines()]


def test_show_filters_by_tenant(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shown(capsys, log_dir, "--tenant", "globex-us") == ["req-c", "req-d"]


def test_show_filters_by_any_attempted_provider(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _shown(capsys, log_dir, "--provider", "mistral-eu") == ["req-a", "req-b"]


def test_show_filters_by_outcome(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shown(capsys, log_dir, "--outcome", "answered") == ["req-a", "req-d"]


def test_show_filters_by_time(log_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _shown(capsys, log_dir, "--since", "2999-01-01") == []
    assert len(_shown(capsys, log_dir, "--until", "2999-01-01T00:00:00+00:00")) == 4


def test_show_prints_one_summary_line_per_record(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "audit", "show", str(log_dir), "--tenant", "acme-eu")
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[1].split()[2:] == ["acme-eu", "all_failed", "mistral-eu,azure-eu", "req-b"]


def test_the_installed_command_verifies_and_rejects(log_dir: Path, public_pem: str) -> None:
    command = Path(sys.executable).with_name("policy-engine")
    argv = [str(command), "audit", "verify", str(log_dir), "--public-key", public_pem]
    intact = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (intact.returncode, intact.stdout.startswith("OK: 4 records")) == (0, True)
    segment = log_dir / "segment-00000001.jsonl"
    segment.write_bytes(b"".join(segment.read_bytes().splitlines(keepends=True)[1:]))
    broken = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 1
    assert "FAIL segment-00000001.jsonl line 1 (seq 1): seq 1 where 0 was expected" in broken.stderr


def _staging(note: bytes, keys: Path) -> bytes:
    """`note` as the same key would sign it for another log, under staging/audit."""
    key = load_private_key(keys / "audit-signing-key.pem")
    body = note.decode().split("\n\n")[0].replace("policy-engine/audit", "staging/audit")
    return sign_note(body + "\n", [NoteSigner("staging/audit", key)]).encode()


def _latest_note(log_dir: Path) -> Path:
    return sorted((log_dir / "checkpoints").glob("*.note"))[-1]


def test_verify_refuses_a_trusted_keys_checkpoint_for_another_origin(
    log_dir: Path, keys: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _latest_note(log_dir)
    path.write_bytes(_staging(path.read_bytes(), keys))
    code, _, err = run(capsys, "audit", "verify", str(log_dir), "--public-key", public_pem)
    assert code == 1
    assert err.startswith(f"FAIL checkpoints/{path.name}: no signature")


def test_verify_refuses_a_held_checkpoint_for_another_origin(
    log_dir: Path, keys: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = tmp_path / "held.note"
    held.write_bytes(_staging(_latest_note(log_dir).read_bytes(), keys))
    argv = ["audit", "verify", str(log_dir), "--public-key", public_pem, "--checkpoint", str(held)]
    code, _, err = run(capsys, *argv)
    assert (code, err.startswith(f"FAIL {held}: no signature")) == (1, True)


def test_verify_refuses_a_checkpoint_with_crlf_line_endings(
    log_dir: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _latest_note(log_dir)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    code, _, err = run(capsys, "audit", "verify", str(log_dir), "--public-key", public_pem)
    assert code == 1
    assert "control character U+000D (CRLF line endings?)" in err


def test_verify_refuses_a_checkpoint_with_an_empty_extension_line(
    log_dir: Path, keys: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _latest_note(log_dir)
    key = load_private_key(keys / "audit-signing-key.pem")
    body = path.read_bytes().decode().split("\n\n")[0] + "\n\nextension\n"
    signer = NoteSigner("policy-engine/audit", key)
    signature = base64.b64encode(signer.key_hash + key.sign(body.encode())).decode()
    path.write_bytes(f"{body}\n\u2014 policy-engine/audit {signature}\n".encode())
    code, _, err = run(capsys, "audit", "verify", str(log_dir), "--public-key", public_pem)
    assert code == 1
    assert "empty extension line" in err


def test_check_proof_refuses_a_bundle_signed_for_another_origin(
    log_dir: Path, keys: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = _proof_file(log_dir, tmp_path, capsys)
    data = json.loads(proof.read_text())
    data["checkpoint"] = _staging(data["checkpoint"].encode(), keys).decode()
    proof.write_text(json.dumps(data))
    code, _, err = run(capsys, "audit", "check-proof", str(proof), "--public-key", public_pem)
    assert (code, err.startswith("FAIL: no signature")) == (1, True)


def _verifier_key(keys: Path, capsys: pytest.CaptureFixture[str], origin: str) -> str:
    pem = str(keys / "audit-signing-key.pub.pem")
    code, out, _ = run(capsys, "keys", "verifier-key", "--public-key", pem, "--origin", origin)
    assert code == 0
    return out.strip()


def test_verify_pins_the_origin_named_by_a_verifier_key(
    log_dir: Path, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _verifier_key(keys, capsys, "policy-engine/audit")
    code, out, _ = run(capsys, "audit", "verify", str(log_dir), "--verifier-key", vkey)
    assert (code, "under origin policy-engine/audit" in out) == (0, True)
    other = _verifier_key(keys, capsys, "staging/audit")
    code, _, err = run(capsys, "audit", "verify", str(log_dir), "--verifier-key", other)
    assert (code, "no signature on the note is by a trusted key named staging/audit" in err) == (
        1,
        True,
    )


def test_verify_pins_the_origin_given_with_a_public_key(
    log_dir: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "verify", str(log_dir), "--public-key", public_pem, "--origin", "other/log"]
    code, _, err = run(capsys, *argv)
    assert (code, "trusted key named other/log" in err) == (1, True)


def test_verify_refuses_a_verifier_key_and_a_public_key_together(
    log_dir: Path, keys: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey = _verifier_key(keys, capsys, "policy-engine/audit")
    argv = ["audit", "verify", str(log_dir), "--verifier-key", vkey, "--public-key", public_pem]
    code, _, err = run(capsys, *argv)
    assert (code, err.startswith("error: give --verifier-key, or --public-key")) == (2, True)


def test_verify_without_a_trusted_key_is_a_usage_error(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "audit", "verify", str(log_dir))
    assert (code, err.startswith("error: name the trusted key")) == (2, True)


def test_verify_json_prints_the_report(
    log_dir: Path, public_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "verify", str(log_dir), "--public-key", public_pem, "--json"]
    code, out, _ = run(capsys, *argv)
    report = json.loads(out)
    assert (code, report["records"], report["checkpoints"], report["interrupted"]) == (0, 4, 1, [])


def test_prove_and_consistency_check_two_checkpoints_with_a_proof_file(
    log_dir: Path, keys: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.note"
    old.write_bytes(_latest_note(log_dir).read_bytes())  # size 4, kept by an auditor
    _append(log_dir, keys, ["req-e", "req-f", "req-g"], capsys)
    new = _latest_note(log_dir)
    code, out, _ = run(capsys, "audit", "prove", str(log_dir), "--consistency", "4")
    assert (code, json.loads(out)["size2"]) == (0, 7)
    proof = tmp_path / "consistency.json"
    proof.write_text(out)
    argv = ["audit", "consistency", str(old), str(new), "--public-key", public_pem]
    code, out, _ = run(capsys, *argv, "--proof", str(proof))
    assert (code, out.strip()) == (
        0,
        "OK: the checkpoint of size 7 extends the one of size 4 (origin policy-engine/audit)",
    )
    code, out, _ = run(capsys, *argv, "--log", str(log_dir))
    assert code == 0


def test_consistency_fails_for_a_proof_that_does_not_lead_to_the_new_root(
    log_dir: Path, keys: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = tmp_path / "old.note"
    old.write_bytes(_latest_note(log_dir).read_bytes())
    _append(log_dir, keys, ["req-e", "req-f"], capsys)
    _, out, _ = run(capsys, "audit", "prove", str(log_dir), "--consistency", "4")
    data = json.loads(out)
    data["proof"][-1] = base64.b64encode(bytes(32)).decode()
    proof = tmp_path / "consistency.json"
    proof.write_text(json.dumps(data))
    argv = ["audit", "consistency", str(old), str(_latest_note(log_dir)), "--proof", str(proof)]
    code, _, err = run(capsys, *argv, "--public-key", public_pem)
    assert (code, err.startswith("FAIL: root mismatch")) == (1, True)


def test_verify_since_a_checkpoint_reads_only_what_came_after(
    log_dir: Path, keys: Path, public_pem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    held = tmp_path / "held.note"
    held.write_bytes(_latest_note(log_dir).read_bytes())
    _append(log_dir, keys, ["req-e", "req-f"], capsys)
    argv = ["audit", "verify", str(log_dir), "--public-key", public_pem]
    code, out, _ = run(capsys, *argv, "--since-checkpoint", str(held))
    assert code == 0
    assert out.startswith("OK: 2 records (seq 4-5) appended after the trusted checkpoint of size 4")
    assert "consistent: checkpoint 6 extends the trusted checkpoint 4" in out


def test_keys_verifier_key_prints_what_generate_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["keys", "generate", "--out", str(tmp_path / "k"), "--origin", "example.test/log"])
    printed = capsys.readouterr().out.split("checkpoint verifier key: ")[1].strip()
    pem = str(tmp_path / "k" / "audit-signing-key.pub.pem")
    code, out, _ = run(
        capsys, "keys", "verifier-key", "--public-key", pem, "--origin", "example.test/log"
    )
    assert (code, out.strip()) == (0, printed)


def _append(
    log_dir: Path, keys: Path, request_ids: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = AuditSettings(dir=log_dir, signing_key_file=keys / "audit-signing-key.pem")

    async def more() -> None:
        log = await AuditLog.open(settings)
        for request_id in request_ids:
            await log.append({"request_id": request_id, "tenant": "acme-eu", "outcome": "answered"})
        await log.close()

    asyncio.run(more())
    capsys.readouterr()  # drop the writer's log lines
