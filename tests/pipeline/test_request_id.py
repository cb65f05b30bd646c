"""Request ids: random version-4 UUIDs in hex, as `uuid.uuid4().hex` writes them."""

from __future__ import annotations

import uuid

from policy_engine.pipeline._pipeline import request_id


def test_a_request_id_is_a_version_4_uuid_in_hex() -> None:
    for _ in range(1000):
        text = request_id()
        parsed = uuid.UUID(hex=text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert parsed.hex == text


def test_request_ids_do_not_repeat() -> None:
    assert len({request_id() for _ in range(10_000)}) == 10_000
