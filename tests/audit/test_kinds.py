"""Record kinds: a request's intent and its outcome travel to the writer and back as such."""

from __future__ import annotations

from typing import Any, cast

import pytest

from policy_engine.audit import AuditError, AuditLog, AuditSettings, RecordKind, iter_records


async def test_intent_and_request_records_keep_their_kind_and_take_seqs_in_order(
    settings: AuditSettings,
) -> None:
    log = await AuditLog.open(settings)
    intent = await log.append({"request_id": "r1"}, "intent")
    outcome = await log.append({"request_id": "r1", "intent_seq": intent})
    await log.close()

    written = [(r.kind, r.seq, r.event) for _, r in iter_records(settings.dir)]
    assert written == [
        ("intent", 0, {"request_id": "r1"}),
        ("request", 1, {"request_id": "r1", "intent_seq": 0}),
    ]
    assert outcome == 1


@pytest.mark.parametrize("kind", ["recovery", "outcome", ""])
async def test_a_kind_the_sidecar_may_not_write_is_refused_alone(
    settings: AuditSettings, kind: str
) -> None:
    log = await AuditLog.open(settings)
    refused = log.submit({"request_id": "bad"}, cast(RecordKind, kind))
    good = log.submit({"request_id": "good"})
    with pytest.raises(AuditError):
        await refused
    assert await good == 0
    await log.close()

    kinds: list[Any] = [r.kind for _, r in iter_records(settings.dir)]
    assert kinds == ["request"]
