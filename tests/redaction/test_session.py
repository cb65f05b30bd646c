"""Placeholders: stable per request, covering every outgoing field, restored in answers."""

from __future__ import annotations

import copy
import json
import threading
from urllib.parse import quote

import pytest

from adapters._model import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolResult,
    Usage,
)
from policy_engine.redaction import (
    ENTITY_TYPES,
    NerUnavailable,
    PatternDetector,
    RedactionSession,
    Redactor,
    Span,
    default_redactor,
)

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
ALL = ENTITY_TYPES
REDACTOR = default_redactor()


def session() -> RedactionSession:
    return REDACTOR.session()


def response(text: str, arguments: str = "{}") -> ChatResponse:
    return ChatResponse(
        id="r1",
        model="m",
        content=[TextPart(text)],
        tool_calls=[ToolCall("c1", "lookup", arguments)],
        finish_reason="stop",
        usage=Usage(),
    )


def with_call(arguments: str) -> ChatRequest:
    return ChatRequest("m", [Message("assistant", tool_calls=[ToolCall("c", "f", arguments)])])


def text_of(message: Message) -> str:
    return "".join(p.text for p in message.content if isinstance(p, TextPart))


def full_request() -> ChatRequest:
    return ChatRequest(
        model="default",
        system=[f"Operator contact {EMAIL}"],
        messages=[
            Message(
                "user", content=[TextPart(f"Call me on {PHONE}"), ImagePart("https://x/y.png")]
            ),
            Message(
                "assistant",
                tool_calls=[ToolCall("c1", "charge", json.dumps({"card": CARD}))],
            ),
            Message(
                "tool",
                tool_result=ToolResult("c1", [TextPart(f"charged {CARD} for {EMAIL}")]),
            ),
        ],
        tools=[
            Tool(
                "notify",
                f"Sends mail from {EMAIL}",
                {"type": "object", "properties": {"to": {"default": EMAIL}}},
            )
        ],
        stop=[f"END {EMAIL}"],
        user=EMAIL,
    )


def test_value_is_replaced_by_a_typed_numbered_placeholder() -> None:
    assert session().redact_text(f"mail {EMAIL} now", ALL) == "mail <EMAIL_ADDRESS_1> now"


def test_same_value_gets_the_same_placeholder_every_time() -> None:
    s = session()
    first = s.redact_text(f"{EMAIL} and {EMAIL}", ALL)
    second = s.redact_text(f"again {EMAIL}", ALL)
    assert first == "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_1>"
    assert second == "again <EMAIL_ADDRESS_1>"


def test_different_values_get_different_numbers() -> None:
    text = session().redact_text("a@example.com b@example.com", ALL)
    assert text == "<EMAIL_ADDRESS_1> <EMAIL_ADDRESS_2>"


def test_only_the_requested_types_are_redacted() -> None:
    text = session().redact_text(f"{EMAIL} {PHONE}", frozenset({"PHONE_NUMBER"}))
    assert text == f"{EMAIL} <PHONE_NUMBER_1>"


def test_no_types_leaves_the_text_as_it_is() -> None:
    assert session().redact_text(f"{EMAIL}", frozenset()) == EMAIL


def test_a_later_attempt_with_more_types_keeps_earlier_placeholders() -> None:
    s = session()
    s.redact_text(f"{EMAIL} {PHONE}", frozenset({"PHONE_NUMBER"}))
    assert s.redact_text(f"{EMAIL} {PHONE}", ALL) == "<EMAIL_ADDRESS_1> <PHONE_NUMBER_1>"


def test_placeholder_the_client_wrote_is_never_issued() -> None:
    s = session()
    text = f"literal <EMAIL_ADDRESS_1> and {EMAIL}"
    redacted = s.redact_text(text, ALL)
    assert redacted == "literal <EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>"
    assert s.restore_text(redacted) == text


def test_restore_brings_back_each_value() -> None:
    s = session()
    text = f"{EMAIL} / {PHONE} / {CARD}"
    assert s.restore_text(s.redact_text(text, ALL)) == text


def test_invented_placeholder_stays_as_it_is() -> None:
    s = session()
    s.redact_text(EMAIL, ALL)
    assert s.restore_text("write to <EMAIL_ADDRESS_99>") == "write to <EMAIL_ADDRESS_99>"


@pytest.mark.parametrize(
    "mangled",
    ["<EMAIL_ADDRESS_1", "EMAIL_ADDRESS_1>", "<email_address_1>", "<EMAIL_ADDRESS 1>", "<EMAIL_1>"],
)
def test_mangled_placeholder_stays_as_it_is(mangled: str) -> None:
    s = session()
    s.redact_text(EMAIL, ALL)
    assert s.restore_text(f"x {mangled} y") == f"x {mangled} y"


def test_counts_give_distinct_values_per_type() -> None:
    s = session()
    s.redact_text(f"{EMAIL} {EMAIL} b@example.com {PHONE}", ALL)
    assert s.counts == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}


def test_counts_hold_no_values() -> None:
    s = session()
    s.redact_text(EMAIL, ALL)
    assert EMAIL not in repr(s.counts)


def test_redact_request_leaves_the_original_untouched() -> None:
    request = full_request()
    before = copy.deepcopy(request)
    session().redact_request(request, ALL)
    assert request == before


def test_redact_request_covers_every_outgoing_text() -> None:
    redacted = session().redact_request(full_request(), ALL)
    user, assistant, tool = redacted.messages
    assert redacted.system == ["Operator contact <EMAIL_ADDRESS_1>"]
    assert user.content[0] == TextPart("Call me on <PHONE_NUMBER_1>")
    assert json.loads(assistant.tool_calls[0].arguments) == {"card": "<CREDIT_CARD_1>"}
    assert tool.tool_result is not None
    assert tool.tool_result.content == [TextPart("charged <CREDIT_CARD_1> for <EMAIL_ADDRESS_1>")]
    assert redacted.tools[0].description == "Sends mail from <EMAIL_ADDRESS_1>"
    assert redacted.tools[0].parameters["properties"]["to"]["default"] == "<EMAIL_ADDRESS_1>"
    assert redacted.stop == ["END <EMAIL_ADDRESS_1>"]
    assert redacted.user == "<EMAIL_ADDRESS_1>"


def test_redacted_request_holds_no_value_anywhere() -> None:
    redacted = session().redact_request(full_request(), ALL)
    dumped = repr(redacted)
    assert EMAIL not in dumped
    assert PHONE not in dumped
    assert CARD not in dumped
    assert CARD.replace(" ", "") not in dumped


def test_image_parts_pass_unchanged() -> None:
    redacted = session().redact_request(full_request(), ALL)
    assert redacted.messages[0].content[1] == ImagePart("https://x/y.png")


def test_tool_arguments_leave_as_the_parsed_object_written_again() -> None:
    arguments = '{ "city" :  "Paris" }'
    redacted = session().redact_request(with_call(arguments), ALL)
    assert redacted.messages[0].tool_calls[0].arguments == '{"city": "Paris"}'


def test_numeric_pii_in_tool_arguments_becomes_a_placeholder_string() -> None:
    arguments = json.dumps({"card": 4111111111111111})
    request = ChatRequest("m", [Message("assistant", tool_calls=[ToolCall("c", "f", arguments)])])
    redacted = session().redact_request(request, ALL)
    assert json.loads(redacted.messages[0].tool_calls[0].arguments) == {"card": "<CREDIT_CARD_1>"}


def test_unparsable_tool_arguments_are_redacted_as_text() -> None:
    arguments = '{"to": "' + EMAIL
    request = ChatRequest("m", [Message("assistant", tool_calls=[ToolCall("c", "f", arguments)])])
    redacted = session().redact_request(request, ALL)
    assert redacted.messages[0].tool_calls[0].arguments == '{"to": "<EMAIL_ADDRESS_1>'


def test_restore_response_restores_text_and_tool_arguments() -> None:
    s = session()
    s.redact_text(f"{EMAIL} {PHONE}", ALL)
    restored = s.restore_response(
        response("Mail <EMAIL_ADDRESS_1>", '{"phone": "<PHONE_NUMBER_1>"}')
    )
    assert restored.content == [TextPart(f"Mail {EMAIL}")]
    assert json.loads(restored.tool_calls[0].arguments) == {"phone": PHONE}


def test_restored_tool_arguments_stay_valid_json_when_the_value_needs_escaping() -> None:
    s = session()
    s.redact_text('dsn postgres://u:pa"ss\\word@db.example', ALL)
    restored = s.restore_response(response("", '{"password": "<SECRET_1>"}'))
    assert json.loads(restored.tool_calls[0].arguments) == {"password": 'pa"ss\\word'}


class FakeNames:
    """Stands in for an NER backend: every "Jane" is a PERSON."""

    entity_types = frozenset({"PERSON"})

    def detect(self, text: str) -> list[Span]:
        start = text.find("Jane")
        return [] if start < 0 else [Span(start, start + 4, "PERSON")]


def test_a_pluggable_detector_adds_its_types() -> None:
    redactor = Redactor([FakeNames()])
    assert redactor.session().redact_text("I am Jane", ALL) == "I am <PERSON_1>"


def test_the_longer_of_two_overlapping_spans_wins() -> None:
    redactor = Redactor([FakeNames(), PatternDetector()])
    text = "Jane@example.com"
    assert redactor.session().redact_text(text, ALL) == "<EMAIL_ADDRESS_1>"


def test_an_overlapping_span_of_an_unrequested_type_does_not_hide_a_requested_one() -> None:
    redactor = Redactor([FakeNames(), PatternDetector()])
    redacted = redactor.session().redact_text("Jane@example.com", frozenset({"EMAIL_ADDRESS"}))
    assert redacted == "<EMAIL_ADDRESS_1>"


def test_uncovered_names_types_no_detector_finds() -> None:
    assert default_redactor().uncovered(frozenset({"PERSON", "EMAIL_ADDRESS"})) == {"PERSON"}


def test_ner_without_an_installed_model_raises_a_clear_error() -> None:
    with pytest.raises(NerUnavailable, match=r"not installed|needs spaCy"):
        default_redactor(ner=True, ner_model="no_such_model_for_tests")


# -- values split across the texts a provider reads as one ---------------------------

SPLIT = ["mail jane.roe@exa", "mple.org, card 4111 1111", " 1111 1111, ssn 536-22-", "9145"]
REDACTED_SPLIT = "mail <EMAIL_ADDRESS_1>, card <CREDIT_CARD_1>, ssn <US_SSN_1>"
SPLIT_VALUES = ("jane.roe@example.org", "4111 1111 1111 1111", "536-22-9145")


def test_a_value_split_across_the_text_parts_of_a_message_is_redacted() -> None:
    s = session()
    redacted = s.redact_request(ChatRequest("m", [Message("user", [*map(TextPart, SPLIT)])]), ALL)
    assert text_of(redacted.messages[0]) == REDACTED_SPLIT
    assert s.restore_text(text_of(redacted.messages[0])) == "".join(SPLIT)


def test_each_part_keeps_its_own_text_and_the_placeholder_goes_where_the_value_starts() -> None:
    redacted = session().redact_request(
        ChatRequest(
            "m", [Message("user", [TextPart("to jane.roe@exa"), TextPart("mple.org now")])]
        ),
        ALL,
    )
    assert redacted.messages[0].content == [TextPart("to <EMAIL_ADDRESS_1>"), TextPart(" now")]


def test_a_part_a_split_value_empties_is_dropped() -> None:
    redacted = session().redact_request(
        ChatRequest("m", [Message("user", [*map(TextPart, SPLIT)])]), ALL
    )
    assert len(redacted.messages[0].content) == 3


def test_a_value_split_around_an_image_is_redacted() -> None:
    image = ImagePart("https://img.example/cat.png")
    message = Message("user", [TextPart("mail jane.roe@exa"), image, TextPart("mple.org")])
    redacted = session().redact_request(ChatRequest("m", [message]), ALL)
    assert redacted.messages[0].content == [TextPart("mail <EMAIL_ADDRESS_1>"), image]


def test_a_value_split_across_system_texts_is_redacted() -> None:
    request = ChatRequest("m", [Message("user", [TextPart("hi")])], system=SPLIT)
    assert "".join(session().redact_request(request, ALL).system) == REDACTED_SPLIT


def test_a_value_split_across_the_parts_of_a_tool_result_is_redacted() -> None:
    result = ToolResult("c1", [*map(TextPart, SPLIT)])
    redacted = session().redact_request(
        ChatRequest("m", [Message("tool", tool_result=result)]), ALL
    )
    assert redacted.messages[0].tool_result is not None
    assert text_of(Message("tool", redacted.messages[0].tool_result.content)) == REDACTED_SPLIT


def test_a_value_split_across_consecutive_user_turns_is_redacted() -> None:
    # Anthropic and Gemini merge consecutive turns of one role into one turn's blocks.
    messages = [Message("user", [TextPart(piece)]) for piece in SPLIT]
    redacted = session().redact_request(ChatRequest("m", messages), ALL)
    assert "".join(text_of(m) for m in redacted.messages) == REDACTED_SPLIT


def test_a_value_split_across_a_tool_result_and_the_user_text_after_it_is_redacted() -> None:
    messages = [
        Message("tool", tool_result=ToolResult("c1", [TextPart("owner jane.roe@exa")])),
        Message("user", [TextPart("mple.org asks")]),
    ]
    redacted = session().redact_request(ChatRequest("m", messages), ALL)
    assert redacted.messages[0].tool_result == ToolResult(
        "c1", [TextPart("owner <EMAIL_ADDRESS_1>")]
    )
    assert text_of(redacted.messages[1]) == " asks"


def test_a_value_whole_in_one_part_is_redacted_when_the_next_part_runs_on_from_it() -> None:
    # Joined, the card's last group would run into "5": each part is read alone as well.
    parts: list[Part] = [TextPart("card 4111 1111 1111 1111"), TextPart("5 units")]
    redacted = session().redact_request(ChatRequest("m", [Message("user", parts)]), ALL)
    assert "4111 1111 1111 1111" not in text_of(redacted.messages[0])


def test_an_assistant_turn_is_not_joined_to_the_user_turn_before_it() -> None:
    messages = [
        Message("user", [TextPart("id 4111 1111")]),
        Message("assistant", [TextPart(" 1111 1111")]),
    ]
    redacted = session().redact_request(ChatRequest("m", messages), ALL)
    assert [text_of(m) for m in redacted.messages] == ["id 4111 1111", " 1111 1111"]


class FixedSpans:
    """A detector that finds the given spans in every text it is shown."""

    def __init__(self, *spans: Span) -> None:
        self.entity_types = frozenset(s.entity_type for s in spans)
        self._spans = list(spans)

    def detect(self, text: str) -> list[Span]:
        return [s for s in self._spans if s.end <= len(text)]


def test_two_partly_overlapping_spans_are_covered_whole_by_one_placeholder() -> None:
    redactor = Redactor(
        [FixedSpans(Span(0, 8, "PERSON")), FixedSpans(Span(5, 14, "EMAIL_ADDRESS"))]
    )
    s = redactor.session()
    redacted = s.redact_text("Jane Roe@x.org is here", ALL)
    assert redacted == "<EMAIL_ADDRESS_1> is here"
    assert s.restore_text(redacted) == "Jane Roe@x.org is here"


# -- every field that leaves ----------------------------------------------------------


def test_the_name_of_a_message_is_redacted() -> None:
    message = Message("user", [TextPart("hi")], name=EMAIL)
    assert session().redact_request(ChatRequest("m", [message]), ALL).messages[0].name == (
        "<EMAIL_ADDRESS_1>"
    )


@pytest.mark.parametrize(
    "url",
    [
        f"https://img.example/a.png?owner={EMAIL}",
        f"https://img.example/{EMAIL}/a.png",
        "https://img.example/a.png?card=4111 1111 1111 1111",
        f"https://img.example/a.png?owner={quote(EMAIL, safe='')}",
        f"https://img.example/{quote('card 4111 1111 1111 1111')}/a.png",
        f"data:text/plain,{EMAIL}",
        f"data:image/png;base64,{EMAIL}",
        "data:image/png;base64,4111111111111111",  # base64 letters, but no PNG in them
    ],
)
def test_an_image_url_is_redacted_query_and_path_included(url: str) -> None:
    message = Message("user", [ImagePart(url)])
    redacted = session().redact_request(ChatRequest("m", [message]), ALL)
    part = redacted.messages[0].content[0]
    assert isinstance(part, ImagePart)
    assert EMAIL not in part.url and "4111 1111 1111 1111" not in part.url


def test_base64_image_data_leaves_as_it_came() -> None:
    url = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
        "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    message = Message("user", [ImagePart(url, "image/png")])
    redacted = session().redact_request(ChatRequest("m", [message]), ALL)
    assert redacted.messages[0].content == [ImagePart(url, "image/png")]


def test_tool_call_ids_are_redacted_alike_in_the_call_and_its_result() -> None:
    messages = [
        Message("assistant", tool_calls=[ToolCall(EMAIL, "lookup", "{}")]),
        Message("tool", tool_result=ToolResult(EMAIL, [TextPart("done")])),
    ]
    call, result = session().redact_request(ChatRequest("m", messages), ALL).messages
    assert call.tool_calls[0].id == "<EMAIL_ADDRESS_1>"
    assert result.tool_result is not None and result.tool_result.tool_call_id == "<EMAIL_ADDRESS_1>"


def test_tool_names_are_redacted_where_declared_called_and_chosen() -> None:
    name = "4111111111111111"
    request = ChatRequest(
        "m",
        [Message("assistant", tool_calls=[ToolCall("c1", name, "{}")])],
        tools=[Tool(name, None, {})],
        tool_choice=name,
    )
    redacted = session().redact_request(request, ALL)
    assert redacted.tools[0].name == redacted.messages[0].tool_calls[0].name == "<CREDIT_CARD_1>"
    assert redacted.tool_choice == "<CREDIT_CARD_1>"


def test_a_tool_name_in_the_answer_is_restored() -> None:
    s = session()
    s.redact_text("4111111111111111", ALL)
    answer = s.restore_response(
        ChatResponse("r", "m", [], [ToolCall("c", "<CREDIT_CARD_1>", "{}")], "tool_calls", Usage())
    )
    assert answer.tool_calls[0].name == "4111111111111111"


@pytest.mark.parametrize(
    "arguments",
    [
        f'{{"email": "{EMAIL}", "email": "x"}}',
        f'{{"to": {{"email": "{EMAIL}", "email": "x"}}}}',
        f'[{{"email": "{EMAIL}", "email": "x"}}]',
    ],
)
def test_a_duplicate_key_cannot_carry_a_value_past_redaction(arguments: str) -> None:
    redacted = session().redact_request(with_call(arguments), ALL)
    assert EMAIL not in redacted.messages[0].tool_calls[0].arguments


@pytest.mark.parametrize(
    "number",
    ["4111111111111111.0", "4111111111111111e0", "-4111111111111111", "-4111111111111111.0"],
)
def test_a_card_written_as_any_json_number_is_redacted(number: str) -> None:
    arguments = f'{{"card": {number}, "cards": [{number}]}}'
    redacted = session().redact_request(with_call(arguments), ALL)
    assert "4111111111111111" not in redacted.messages[0].tool_calls[0].arguments


@pytest.mark.parametrize("number", [4111111111111111.0, -4111111111111111, 4111111111111111])
def test_a_card_written_as_a_number_in_a_tool_schema_is_redacted(number: float) -> None:
    schema = {"type": "object", "properties": {"card": {"default": number, "enum": [number]}}}
    request = ChatRequest("m", [Message("user", [TextPart("hi")])], tools=[Tool("f", None, schema)])
    redacted = session().redact_request(request, ALL)
    assert "4111111111111111" not in json.dumps(redacted.tools[0].parameters)


# -- large requests are scanned off the event loop ----------------------------------


class RecordingDetector:
    """The pattern detector, recording each text it scans and the thread it ran on."""

    entity_types = PatternDetector().entity_types

    def __init__(self) -> None:
        self.scans: list[tuple[str, str]] = []
        self._detector = PatternDetector()

    def detect(self, text: str) -> list[Span]:
        self.scans.append((text, threading.current_thread().name))
        return self._detector.detect(text)


def split_request() -> ChatRequest:
    request = full_request()
    request.messages.append(Message("user", [*map(TextPart, SPLIT)], name=EMAIL))
    return request


async def test_a_prepared_request_is_not_scanned_again_by_any_attempt() -> None:
    detector = RecordingDetector()
    s = Redactor([detector], offload_bytes=0, scan_processes=0).session()
    request = split_request()
    await s.prepare(request, [ALL, frozenset({"EMAIL_ADDRESS"})], size=1)
    scanned = len(detector.scans)
    s.redact_request(request, ALL)
    s.redact_request(request, frozenset({"EMAIL_ADDRESS"}))
    assert scanned > 0 and len(detector.scans) == scanned


async def test_without_scan_processes_a_large_request_is_scanned_on_the_worker_thread() -> None:
    detector = RecordingDetector()
    s = Redactor([detector], offload_bytes=100, scan_processes=0).session()
    await s.prepare(split_request(), [ALL], size=100)
    assert {thread for _, thread in detector.scans} == {"redaction_0"}


async def test_a_small_request_is_left_to_the_attempts() -> None:
    detector = RecordingDetector()
    s = Redactor([detector], offload_bytes=100, scan_processes=0).session()
    await s.prepare(split_request(), [ALL], size=99)
    assert detector.scans == []
    s.redact_request(split_request(), ALL)
    assert {thread for _, thread in detector.scans} == {threading.current_thread().name}


async def test_nothing_is_redacted_ahead_when_no_candidate_redacts() -> None:
    detector = RecordingDetector()
    s = Redactor([detector], offload_bytes=0, scan_processes=0).session()
    await s.prepare(split_request(), [frozenset(), frozenset()], size=1)
    assert detector.scans == []


async def test_a_prepared_request_is_redacted_as_an_unprepared_one() -> None:
    prepared = Redactor([PatternDetector()], offload_bytes=0, scan_processes=0).session()
    request = split_request()
    await prepared.prepare(request, [ALL], size=1)
    unprepared = Redactor([PatternDetector()]).session()
    assert prepared.redact_request(request, ALL) == unprepared.redact_request(request, ALL)


async def test_counts_hold_only_what_an_attempt_was_handed() -> None:
    s = Redactor([PatternDetector()], offload_bytes=0, scan_processes=0).session()
    request = ChatRequest("m", [Message("user", [TextPart(f"{EMAIL} {PHONE}")])])
    await s.prepare(request, [ALL, frozenset({"EMAIL_ADDRESS"})], size=1)
    assert s.counts == {}
    s.redact_request(request, frozenset({"EMAIL_ADDRESS"}))
    assert s.counts == {"EMAIL_ADDRESS": 1}


async def test_prepare_takes_what_the_tenant_cache_holds_and_scans_the_rest() -> None:
    detector = RecordingDetector()
    redactor = Redactor([detector], cache_entries=16, offload_bytes=0, scan_processes=0)
    long_text = "Please call me back about the invoice. " * 10 + EMAIL
    request = ChatRequest("m", [Message("user", [TextPart(long_text)])])
    for _ in range(2):
        redactor.session("acme").redact_request(request, ALL)
    detector.scans.clear()
    await redactor.session("acme").prepare(request, [ALL], size=1)
    assert detector.scans == []
    await redactor.session("globex").prepare(request, [ALL], size=1)
    assert [text for text, _ in detector.scans] == [long_text]


def test_a_placeholder_the_client_wrote_in_a_later_field_is_never_issued() -> None:
    s = session()
    request = ChatRequest(
        "m",
        [
            Message("user", [TextPart(f"mail {EMAIL}")]),
            Message("assistant", [TextPart("noted")]),
            Message("user", [TextPart("what is <EMAIL_ADDRESS_1>?")]),
        ],
    )
    redacted = s.redact_request(request, ALL)
    assert text_of(redacted.messages[0]) == "mail <EMAIL_ADDRESS_2>"
    assert s.restore_text("<EMAIL_ADDRESS_1> <EMAIL_ADDRESS_2>") == f"<EMAIL_ADDRESS_1> {EMAIL}"
    assert s.counts == {"EMAIL_ADDRESS": 1}
