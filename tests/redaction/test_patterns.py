"""What the structured detector finds, and the look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from policy_engine.redaction import PatternDetector

DETECTOR = PatternDetector()


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s.start : s.end], s.entity_type) for s in DETECTOR.detect(text)]


# Each value sits in a sentence, so the boundaries around it are tested too.
TRUE_POSITIVES = [
    # email
    ("jane.doe@example.com", "EMAIL_ADDRESS"),
    ("o'brien+tag@mail.example.co.uk", None),  # apostrophe: the detected part is below
    ("first.last@sub.example.org", "EMAIL_ADDRESS"),
    # phones, international and national, several regions
    ("+44 20 7946 0958", "PHONE_NUMBER"),
    ("+1-202-555-0143", "PHONE_NUMBER"),
    ("(415) 555-0132", "PHONE_NUMBER"),
    ("+49 30 12345678", "PHONE_NUMBER"),
    ("030 12345678", "PHONE_NUMBER"),
    ("020 7946 0958", "PHONE_NUMBER"),
    ("+33 1 83 41 77 76", "PHONE_NUMBER"),
    ("06 12 34 56 78", "PHONE_NUMBER"),
    ("612 345 678", "PHONE_NUMBER"),
    ("+39 0925141776", "PHONE_NUMBER"),
    ("+31 20 123 4567", "PHONE_NUMBER"),
    ("020-1234567", "PHONE_NUMBER"),
    ("+91 98765 43210", "PHONE_NUMBER"),
    ("98765 43210", "PHONE_NUMBER"),
    ("0044 20 7946 0958", "PHONE_NUMBER"),
    ("+44 (0)20 7946 0958", "PHONE_NUMBER"),
    # cards (Luhn and issuer prefix)
    ("4111 1111 1111 1111", "CREDIT_CARD"),
    ("5500-0000-0000-0004", "CREDIT_CARD"),
    ("378282246310005", "CREDIT_CARD"),
    ("6011111111111117", "CREDIT_CARD"),
    ("1800 3484 0002 845", "CREDIT_CARD"),
    ("6761 6338 1582", "CREDIT_CARD"),
    # IBAN, compact and grouped
    ("DE89370400440532013000", "IBAN_CODE"),
    ("DE89 3704 0044 0532 0130 00", "IBAN_CODE"),
    ("GB82 WEST 1234 5698 7654 32", "IBAN_CODE"),
    ("FR1420041010050500013M02606", "IBAN_CODE"),
    ("NL91ABNA0417164300", "IBAN_CODE"),
    # US SSN
    ("123-45-6789", "US_SSN"),
    ("078 05 1120", "US_SSN"),
    # IP addresses
    ("192.168.1.20", "IP_ADDRESS"),
    ("203.0.113.7", "IP_ADDRESS"),
    ("2001:db8::8a2e:370:7334", "IP_ADDRESS"),
    ("fe80::1ff:fe23:4567:890a", "IP_ADDRESS"),
    # secrets
    ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz012345", "SECRET"),
    ("sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", "SECRET"),
    ("AKIAIOSFODNN7EXAMPLE", "SECRET"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "SECRET"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "SECRET"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123_-x", "SECRET"),
    # national IDs
    ("AB 12 34 56 C", "UK_NINO"),
    ("AB123456C", "UK_NINO"),
    ("36574261809", "DE_TAX_ID"),
    ("264077505687457", "FR_NIR"),
    ("2 64 07 75 056 874 57", "FR_NIR"),
    ("12345678Z", "ES_NIF"),
    ("X1234567L", "ES_NIE"),
    ("RSSMRA85T10A562S", "IT_FISCAL_CODE"),
    ("111222333", "NL_BSN"),
    ("2341 2341 2346", "IN_AADHAAR"),
    ("234123412346", "IN_AADHAAR"),
]


@pytest.mark.parametrize(("value", "entity_type"), [c for c in TRUE_POSITIVES if c[1] is not None])
def test_value_in_a_sentence_is_found_whole_with_its_type(value: str, entity_type: str) -> None:
    assert found(f"Please note: {value}, thanks.") == [(value, entity_type)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl123", [("abc.def-ghi_jkl123", "SECRET")]),
        (
            "dsn postgres://admin:hunter2pass@db.internal:5432/app",
            [("hunter2pass", "SECRET")],
        ),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN\n"
            "-----END RSA PRIVATE KEY----- done",
            [
                (
                    "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN\n"
                    "-----END RSA PRIVATE KEY-----",
                    "SECRET",
                )
            ],
        ),
    ],
)
def test_only_the_secret_part_of_a_credential_is_found(
    text: str, expected: list[tuple[str, str]]
) -> None:
    assert found(text) == expected


LOOK_ALIKES = [
    "order #48213977",
    "order ORD-2024-118734",
    "invoice INV-000123456",
    "on 2024-03-05",
    "on 15.01.2024",
    "on 03/15/2024",
    "at 2024-03-05T14:22:31Z",
    "at 14:22:31",
    "epoch 1700000000",
    "price $1,299.99",
    "price 1.299,00 EUR",
    "version v1.2.3",
    "release v2.3.14.1",
    "version 10.0.19045.3803",
    "version 1.2.3.4",
    "uuid d96bd90d-b6f3-4f58-ae5e-42cc90738d65",
    "card 4111 1111 1111 1112",
    "card 4002 6751 1253 2874",
    "number 1234567812345678",
    "ssn-like 666-12-3456",
    "ssn-like 123-00-4567",
    "ip-like 999.1.2.3",
    "hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b",
    "call std::vector<int> here",
    "iban-like DE00 3704 0044 0532 0130 00",
    "nino-like ZZ 12 34 56 C",
    "dni-like 12345678A",
    "sk-short",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alike_is_not_found(text: str) -> None:
    assert found(f"Please note: {text}, thanks.") == []


def test_ungrouped_run_valid_as_a_national_phone_is_a_phone() -> None:
    # Recall over precision: a mistaken placeholder is restored in the answer anyway.
    assert found("see 3420837783 today") == [("3420837783", "PHONE_NUMBER")]


def test_ssn_with_a_leading_zero_area_is_not_read_as_an_international_number() -> None:
    assert found("SSN 006-95-3970.") == [("006-95-3970", "US_SSN")]


def test_nir_wins_over_a_card_that_passes_luhn_by_chance() -> None:
    assert found("NIR 271113726105136.") == [("271113726105136", "FR_NIR")]


def test_twelve_digits_passing_both_checks_are_a_card_after_the_word_card() -> None:
    assert found("card 5018 5845 6095") == [("5018 5845 6095", "CREDIT_CARD")]
    assert found("Aadhaar 5018 5845 6095") == [("5018 5845 6095", "IN_AADHAAR")]


def test_groups_of_a_failed_card_are_not_taken_for_other_values() -> None:
    assert found("ref 1800 3484 0002 846 ok") == []
    assert found("ref 4393 2474 2371 9282 ok") == []


def test_values_next_to_each_other_are_found_separately() -> None:
    text = "jane@example.com,+44 20 7946 0958;4111111111111111"
    assert [t for _, t in found(text)] == ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"]


def test_phone_followed_by_a_short_number_is_still_found() -> None:
    assert found("call +44 20 7946 0958 2 times") == [("+44 20 7946 0958", "PHONE_NUMBER")]


def test_ipv6_address_after_a_number_is_not_swallowed_by_it() -> None:
    assert [t for _, t in found("4111 1111 1111 1111 2001:db8::8a2e:370:7334")] == [
        "CREDIT_CARD",
        "IP_ADDRESS",
    ]


def test_values_in_a_run_longer_than_the_candidate_cap_are_all_found() -> None:
    run = " ".join(["030 12345678"] * 3 + ["4111 1111 1111 1111"] * 2)
    assert [t for _, t in found(run)] == ["PHONE_NUMBER"] * 3 + ["CREDIT_CARD"] * 2


@pytest.mark.parametrize(
    "numbers",
    [
        # Found by hypothesis. The cap falls inside "06 12 34 56 78", whose first four
        # groups pass as a phone number: taking them left "78" and hid the next number.
        ["+44 20 7946 0958", *["030 12345678"] * 4, "06 12 34 56 78", "030 12345678"],
        # "06 12 34 56 78 06" passes as one number, leaving the rest uncoverable.
        ["+44 20 7946 0958", *["030 12345678"] * 3, *["06 12 34 56 78"] * 2, "030 12345678"],
    ],
)
def test_the_last_value_of_a_capped_run_is_read_again_with_the_rest(numbers: list[str]) -> None:
    assert found(" ".join(numbers)) == [(number, "PHONE_NUMBER") for number in numbers]


def test_run_of_short_numbers_is_scanned_in_bounded_time() -> None:
    assert found(" ".join(["12"] * 3000)) == []


def test_many_begin_lines_without_an_end_line_are_not_a_key() -> None:
    assert found("-----BEGIN PRIVATE KEY-----\n" * 300) == []


def test_iban_followed_by_an_upper_case_word_keeps_only_the_iban() -> None:
    text = "DE89 3704 0044 0532 0130 00 OK"
    assert found(text) == [("DE89 3704 0044 0532 0130 00", "IBAN_CODE")]


def test_pem_block_without_an_end_line_is_not_found_as_a_whole_text() -> None:
    assert found("-----BEGIN PRIVATE KEY-----\nabc") == []


def test_empty_text_has_no_spans() -> None:
    assert DETECTOR.detect("") == []
