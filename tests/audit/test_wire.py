"""Frames between the sidecar and its writer arrive whole however the stream is cut."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_engine.audit._wire import MAX_FRAME, FrameBuffer, FrameError, frame


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=6),
)
def test_frames_cut_anywhere_come_out_whole_and_in_order(
    payloads: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(frame(payload) for payload in payloads)
    buffer = FrameBuffer()
    received: list[bytes] = []
    start = 0
    for cut in [*sorted(min(cut, len(stream)) for cut in cuts), len(stream)]:
        received += buffer.feed(stream[start:cut])
        start = max(start, cut)
    assert received == payloads
    assert buffer.pending == 0


def test_a_length_past_the_limit_is_a_broken_stream() -> None:
    with pytest.raises(FrameError):
        FrameBuffer().feed((MAX_FRAME + 1).to_bytes(4, "little"))
