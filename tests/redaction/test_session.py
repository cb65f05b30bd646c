"""Placeholders: stable per request, covering every outgoing field, restored in answers."""

from __future__ import annotations

import copy
import json

import pytest

from adapters._model import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
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


def test_tool_arguments_without_pii_keep_their_exact_formatting() -> None:
    arguments = '{ "city" :  "Paris" }'
    request = ChatRequest("m", [Message("assistant", tool_calls=[ToolCall("c", "f", arguments)])])
    redacted = session().redact_request(request, ALL)
    assert redacted.messages[0].tool_calls[0].arguments == arguments


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
