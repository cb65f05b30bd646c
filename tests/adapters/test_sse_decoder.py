"""The push-style SSE decoder, against the WHATWG event-stream rules."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import repeat

from hypothesis import given
from hypothesis import strategies as st

from adapters import SSEDecoder, SSEEvent


def decode(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def test_an_event_ends_at_a_blank_line() -> None:
    assert decode(b"data: hello\n\n") == [SSEEvent("hello")]


def test_event_name_and_id_are_kept() -> None:
    assert decode(b"event: ping\nid: 7\ndata: {}\n\n") == [SSEEvent("{}", "ping", "7")]


def test_multi_line_data_joins_with_newlines() -> None:
    assert decode(b"data: a\ndata: b\n\n") == [SSEEvent("a\nb")]


def test_comments_are_ignored() -> None:
    assert decode(b": keep-alive\n\ndata: x\n\n") == [SSEEvent("x")]


def test_only_one_space_after_the_colon_is_stripped() -> None:
    assert decode(b"data:  two\n\ndata:none\n\n") == [SSEEvent(" two"), SSEEvent("none")]


def test_crlf_and_cr_line_endings_work() -> None:
    assert decode(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n") == [
        SSEEvent("a"),
        SSEEvent("b"),
        SSEEvent("c"),
    ]


def test_crlf_split_between_chunks_is_one_line_ending() -> None:
    assert decode(b"data: a\r", b"\ndata: b\r\n\r\n") == [SSEEvent("a\nb")]


def test_crlf_split_then_a_bare_lf_still_ends_the_event() -> None:
    assert decode(b"data: a\r", b"\n", b"\n") == [SSEEvent("a")]


def test_an_empty_chunk_between_cr_and_lf_changes_nothing() -> None:
    assert decode(b"data: a\r", b"", b"\n\n") == [SSEEvent("a")]


def test_a_long_line_in_many_chunks_is_reassembled() -> None:
    line = b"x" * 100_000
    chunks = [b"data: "] + [line[i : i + 1000] for i in range(0, len(line), 1000)] + [b"\n\n"]
    assert decode(*chunks) == [SSEEvent("x" * 100_000)]


def test_an_event_without_its_blank_line_is_discarded_at_the_end() -> None:
    """WHATWG: 'If the file ends in the middle of an event, before the final empty
    line, the incomplete event is not dispatched.'"""
    assert decode(b"data: complete\n\ndata: partial\n") == [SSEEvent("complete")]


def test_a_blank_line_without_data_dispatches_nothing() -> None:
    assert decode(b"event: lonely\n\ndata: x\n\n") == [SSEEvent("x")]


def test_a_leading_byte_order_mark_is_skipped() -> None:
    assert decode(b"\xef\xbb\xbfdata: x\n\n") == [SSEEvent("x")]


def test_utf8_split_inside_a_character_decodes_whole() -> None:
    raw = "data: Grüße 👋\n\n".encode()
    cut = raw.index("👋".encode()) + 2
    assert decode(raw[:cut], raw[cut:]) == [SSEEvent("Grüße 👋")]


_text = st.text(
    alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"], blacklist_characters="\r\n"),
    max_size=30,
)
_events = st.lists(
    st.tuples(
        st.sampled_from(["", "message_start", "ping"]), st.lists(_text, min_size=1, max_size=3)
    ),
    min_size=1,
    max_size=6,
)


@given(
    events=_events,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_any_split_of_the_bytes_gives_the_same_events(
    events: list[tuple[str, list[str]]], newline: str, cuts: list[int]
) -> None:
    assert decode(*_cut(_wire(events, repeat(newline)), cuts)) == _expected(events)


@given(
    events=_events,
    newlines=st.lists(st.sampled_from(["\n", "\r\n", "\r"]), min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
)
def test_line_endings_may_change_from_line_to_line(
    events: list[tuple[str, list[str]]], newlines: list[str], cuts: list[int]
) -> None:
    """LF-only chunks take a faster path than chunks holding a CR; mixing them changes nothing."""
    # A CR then an LF would be one CRLF ending, not two: such an LF becomes a CRLF.
    cycle = newlines * 64
    cycle = ["\r\n" if e == "\n" and i and cycle[i - 1] == "\r" else e for i, e in enumerate(cycle)]
    assert decode(*_cut(_wire(events, iter(cycle)), cuts)) == _expected(events)


def _wire(events: list[tuple[str, list[str]]], endings: Iterator[str]) -> bytes:
    return "".join(
        (f"event: {name}{next(endings)}" if name else "")
        + "".join(f"data: {line}{next(endings)}" for line in lines)
        + next(endings)
        for name, lines in events
    ).encode()


def _cut(wire: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(wire)) for c in cuts})
    return [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]


def _expected(events: list[tuple[str, list[str]]]) -> list[SSEEvent]:
    return [SSEEvent("\n".join(lines), name or "message") for name, lines in events]
