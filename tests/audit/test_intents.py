"""verify pairs each outcome with its intent: an intent left without an outcome (a crash)
is reported, not failed; an outcome naming anything but its own intent is a fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policy_engine.audit import (
    AuditSettings,
    Interrupted,
    VerificationFailure,
    iter_records,
    load_public_key,
    verify_log,
)
from tests.audit._writing import append, intent, open_writer, outcome


def public_key(settings: AuditSettings) -> Any:
    return load_public_key(settings.signing_key_file.with_name("audit-signing-key.pub.pem"))


def write(settings: AuditSettings, *records: tuple[str, dict[str, Any]]) -> list[int]:
    with open_writer(settings) as writer:
        return append(writer, records)


def at_of(directory: Path, seq: int) -> str:
    return next(record.at for _, record in iter_records(directory) if record.seq == seq)


def failure(settings: AuditSettings) -> VerificationFailure:
    with pytest.raises(VerificationFailure) as caught:
        verify_log(settings.dir, [public_key(settings)])
    return caught.value


def test_paired_intents_and_outcomes_verify_with_nothing_interrupted(
    settings: AuditSettings,
) -> None:
    write(settings, intent("a"), intent("b"), outcome("b", 1), outcome("a", 0))
    report = verify_log(settings.dir, [public_key(settings)])
    assert (report.records, report.intents, report.interrupted) == (4, 2, ())


def test_an_intent_without_an_outcome_is_reported_as_interrupted(
    settings: AuditSettings,
) -> None:
    write(settings, intent("a"), intent("crashed"), outcome("a", 0), outcome("denied", None))
    report = verify_log(settings.dir, [public_key(settings)])
    assert report.interrupted == (Interrupted(1, "crashed", at_of(settings.dir, 1)),)


def test_an_outcome_without_intent_seq_pairs_with_nothing(settings: AuditSettings) -> None:
    write(settings, ("request", {"request_id": "older-record", "outcome": "answered"}))
    assert verify_log(settings.dir, [public_key(settings)]).interrupted == ()


def test_an_outcome_pointing_at_a_request_record_is_a_fault(settings: AuditSettings) -> None:
    write(settings, outcome("a", None), outcome("b", 0))
    found = failure(settings)
    assert found.where.endswith("(seq 1)")
    assert "intent_seq 0 names no intent awaiting its outcome" in found.reason


def test_an_outcome_pointing_at_another_requests_intent_is_a_fault(
    settings: AuditSettings,
) -> None:
    write(settings, intent("a"), intent("b"), outcome("b", 0))
    assert "is the intent of request 'a', not of 'b'" in failure(settings).reason


def test_two_outcomes_for_one_intent_are_a_fault(settings: AuditSettings) -> None:
    write(settings, intent("a"), outcome("a", 0), outcome("a", 0))
    found = failure(settings)
    assert found.where.endswith("(seq 2)")
    assert "already answered" in found.reason


@pytest.mark.parametrize("intent_seq", [1, 5, -1, "0", 0.5, True], ids=repr)
def test_an_intent_seq_that_is_not_an_earlier_seq_is_a_fault(
    settings: AuditSettings, intent_seq: object
) -> None:
    write(settings, intent("a"), outcome("a", intent_seq))
    assert "is not the seq of an earlier record" in failure(settings).reason


def test_an_intent_without_a_request_id_is_a_fault(settings: AuditSettings) -> None:
    write(settings, ("intent", {"tenant": "acme-eu"}))
    assert failure(settings).reason == "intent record without a request_id"
