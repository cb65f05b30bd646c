"""Streaming restoration: chunks flow through, only a possible placeholder tail waits."""

from __future__ import annotations

from adapters._model import StreamEnd, StreamEvent, StreamStart, TextDelta, ToolCallDelta
from policy_engine.redaction import ENTITY_TYPES, RedactionSession, default_redactor

EMAIL = "jane.doe@example.com"


def session_with_email() -> RedactionSession:
    s = default_redactor().session()
    s.redact_text(EMAIL, ENTITY_TYPES)
    return s


def texts(events: list[StreamEvent]) -> list[str]:
    return [e.text for e in events if isinstance(e, TextDelta)]


def test_chunk_without_a_placeholder_prefix_passes_at_once() -> None:
    restorer = session_with_email().stream_restorer()
    assert texts(restorer.feed(TextDelta("a < b and <html>"))) == ["a < b and <html>"]


def test_possible_placeholder_prefix_is_held_until_completed() -> None:
    restorer = session_with_email().stream_restorer()
    assert texts(restorer.feed(TextDelta("write to <EMAIL_AD"))) == ["write to "]
    assert texts(restorer.feed(TextDelta("DRESS_1> now"))) == [f"{EMAIL} now"]


def test_held_tail_that_turns_out_not_to_be_a_placeholder_is_released_unchanged() -> None:
    restorer = session_with_email().stream_restorer()
    restorer.feed(TextDelta("see <EMAIL"))
    assert texts(restorer.feed(TextDelta("s> here"))) == ["<EMAILs> here"]


def test_stream_end_releases_what_was_held_before_ending() -> None:
    restorer = session_with_email().stream_restorer()
    restorer.feed(TextDelta("to <EMAIL_ADDRESS_"))
    events = restorer.feed(StreamEnd("stop"))
    assert events == [TextDelta("<EMAIL_ADDRESS_"), StreamEnd("stop")]


def test_flush_releases_every_channel() -> None:
    restorer = session_with_email().stream_restorer()
    restorer.feed(TextDelta("<EMAIL"))
    restorer.feed(ToolCallDelta(0, "c1", "f", '{"to": "<EMAIL'))
    assert restorer.flush() == [TextDelta("<EMAIL"), ToolCallDelta(0, None, None, "<EMAIL")]


def test_nothing_is_held_when_no_placeholder_was_issued() -> None:
    restorer = default_redactor().session().stream_restorer()
    assert texts(restorer.feed(TextDelta("x <EMAIL_ADDRESS_"))) == ["x <EMAIL_ADDRESS_"]


def test_first_tool_call_delta_keeps_its_id_and_name_while_arguments_wait() -> None:
    restorer = session_with_email().stream_restorer()
    events = restorer.feed(ToolCallDelta(0, "c1", "send", '{"to": "<EMAIL_'))
    assert events == [ToolCallDelta(0, "c1", "send", '{"to": "')]


def test_a_tool_name_that_was_redacted_is_restored_in_the_first_delta() -> None:
    s = default_redactor().session()
    s.redact_text("4111111111111111", ENTITY_TYPES)
    events = s.stream_restorer().feed(ToolCallDelta(0, "c1", "<CREDIT_CARD_1>", "{}"))
    assert events == [ToolCallDelta(0, "c1", "4111111111111111", "{}")]


def test_tool_call_arguments_are_restored_per_tool_index() -> None:
    restorer = session_with_email().stream_restorer()
    out = restorer.feed(ToolCallDelta(0, "c1", "f", '{"a": "<EMAIL_'))
    out += restorer.feed(ToolCallDelta(1, "c2", "g", '{"b": "<EMAIL_ADDRESS_1>"}'))
    out += restorer.feed(ToolCallDelta(0, None, None, 'ADDRESS_1>"}'))
    by_index: dict[int, str] = {}
    for event in out:
        assert isinstance(event, ToolCallDelta)
        by_index[event.index] = by_index.get(event.index, "") + event.arguments
    assert by_index == {0: f'{{"a": "{EMAIL}"}}', 1: f'{{"b": "{EMAIL}"}}'}


def test_other_events_pass_through() -> None:
    restorer = session_with_email().stream_restorer()
    start = StreamStart("id", "model")
    assert restorer.feed(start) == [start]


def test_empty_text_delta_produces_no_event() -> None:
    restorer = session_with_email().stream_restorer()
    assert restorer.feed(TextDelta("")) == []
