"""What a sequence of digit groups is, if anything, given how it stands in its run.

A run of digit groups may be one value, several written one after another, or a table
of numbers. A sequence is judged by one of three readings:

- ALONE: the whole run, or a single group (a cell is a cell): every type, phone numbers
  in any grouping (recall first: a masked reference comes back restored in the answer);
- EMBEDDED: several groups cut from a longer run: only what a strong check or the way it
  is written vouches for (a card, a NIR or German tax id in its printed grouping, an
  SSN's shape, an international prefix, a national phone number with a bracketed area
  code or in the North American 3-3-4 grouping). Without this, any sequence
  of groups in a table of numbers that happens to be a valid phone number would count;
- COVERING: as EMBEDDED, in a run that values cover whole, where an Aadhaar number in
  its printed grouping counts too, and a national number with its trunk "0";
- GLUED: the start of a run glued to a word ("ref-4111...", "card4111..."): only values
  with a strong check (a card, an SSN's shape, a "+" number, an address, a NIR). An
  order or invoice number ("ORD-2024-118734", "INV-000123456"), the digits of an IBAN
  that failed its check ("DE00 3704..."), are glued too.

The checksummed formats are tried before phone numbers, whose validation accepts far
more digit strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from policy_engine.redaction._phones import PhoneValidator
from policy_engine.redaction._validators import (
    DEFAULT_PHONE_REGIONS,
    checksummed,
    is_ipv4,
    is_ssn,
    run_digits,
    version_introduced,
)

ALONE: Final = 0
EMBEDDED: Final = 1
COVERING: Final = 2
GLUED: Final = 3

# The patterns the checks below use, by name: the native detector compiles these too.
PATTERNS = {
    "date": r"\d{1,4}([./-])\d{1,2}\1\d{1,4}",
    # A decimal amount or a measurement ("0997750.49", "0.158617", "48.856613"), not a
    # value written with a dot: none is written with one dot after fewer than four digits.
    "decimal": r"\d+\.\d{1,2}|0\.\d+|[1-9]\d{0,2}\.\d+",
    "ssn": r"(\d{3})([ .-])(\d{2})\2(\d{4})",
    "dotted_quad": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    "nanp": r"\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}",
    # The North American grouping, trunk "1" included: strong enough inside a longer run.
    "nanp_grouped": r"(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}",
    # An SSN written without its dashes counts next to its label.
    "ssn_label": r"(?i)(?:\bssn|\bss#|\bsocial[ -]security(?:[ -](?:number|num|no))?|\bsoc\.? ?sec)"
    r"\.?[ \t]*[:#=.-]?[ \t]*$",
}
_DATE = re.compile(PATTERNS["date"])
_DECIMAL = re.compile(PATTERNS["decimal"])
_SSN = re.compile(PATTERNS["ssn"])
_DOTTED_QUAD = re.compile(PATTERNS["dotted_quad"])
_NANP = re.compile(PATTERNS["nanp"])
_NANP_GROUPED = re.compile(PATTERNS["nanp_grouped"])
_SSN_LABEL = re.compile(PATTERNS["ssn_label"])
# How far back the SSN label is looked for.
SSN_LABEL_REACH = 24
_URL_ENCODED_PLUS = "%2"
# Checksummed types a sequence cut from a longer run can be, with how the identifiers
# are printed (digits per group) where that is fixed. A 1-in-10 check (Aadhaar's
# Verhoeff) passes too often by chance, on the groups of a card that
# failed its own check, say: those count only in a run that values cover whole (COVERING).
_EMBEDDED_TYPES: dict[str, frozenset[tuple[int, ...]] | None] = {
    "CREDIT_CARD": None,
    "FR_NIR": frozenset({(1, 2, 2, 2, 3, 3, 2), (13, 2)}),
    "DE_TAX_ID": frozenset({(2, 3, 3, 3), (3, 3, 3, 2)}),
}
_COVERING_TYPES: dict[str, frozenset[tuple[int, ...]] | None] = {
    **_EMBEDDED_TYPES,
    "IN_AADHAAR": frozenset({(4, 4, 4)}),
}
# Types a glued run can be: those with a check strong enough to stand without a boundary.
GLUED_TYPES = frozenset({"CREDIT_CARD", "FR_NIR"})


class NumberClassifier:
    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self._phones = PhoneValidator(phone_regions)

    def classify(self, candidate: str, preceding: str, mode: int = ALONE) -> str | None:
        """The type of `candidate` (skeleton characters of a digit run, or of a part of
        one) read as `mode`; `preceding` is the skeleton text before it."""
        if candidate.startswith(_URL_ENCODED_PLUS):
            candidate = "+" + candidate[3:]
        if mode in (EMBEDDED, COVERING) and not may_stand_cut(candidate, mode):
            return None
        if _DOTTED_QUAD.fullmatch(candidate):
            return "IP_ADDRESS" if is_ipv4(candidate, preceding) else None
        if "." in candidate and version_introduced(preceding):
            return None
        digits = run_digits(candidate)
        if len(digits) < 6:
            return None
        ssn = _SSN.fullmatch(candidate)
        if ssn is not None:
            return "US_SSN" if is_ssn(int(ssn[1]), int(ssn[3]), int(ssn[4])) else None
        if candidate[0] == "+" or candidate.startswith("00"):
            # "00" glued to a word is more often an identifier's ("DE00 3704...").
            if mode == GLUED and candidate[0] != "+":
                return None
            return "PHONE_NUMBER" if self._is_international_phone(candidate) else None
        unbroken = len(digits) == 9 == len(candidate) and digits.isdigit()
        if (
            unbroken
            and _SSN_LABEL.search(preceding[-SSN_LABEL_REACH:])
            and is_ssn(int(digits[:3]), int(digits[3:5]), int(digits[5:]))
        ):
            return "US_SSN"
        if _DATE.fullmatch(candidate) or _DECIMAL.fullmatch(candidate):
            return None
        entity = checksummed(candidate, digits, preceding)
        if entity is not None:
            if mode == GLUED:
                return entity if entity in GLUED_TYPES else None
            if mode in (EMBEDDED, COVERING):
                types = _EMBEDDED_TYPES if mode == EMBEDDED else _COVERING_TYPES
                if entity not in types:
                    return None
                printed = types[entity]
                return entity if printed is None or _group_sizes(candidate) in printed else None
            return entity
        if mode == GLUED or (mode != ALONE and not _written_as_a_phone(candidate, mode)):
            return None
        return "PHONE_NUMBER" if self._is_national_phone(candidate, digits) else None

    def _is_national_phone(self, candidate: str, digits: str) -> bool:
        if not 7 <= len(digits) <= 12:
            return False
        if digits[0] != "0" and not (_NANP.fullmatch(candidate) or 9 <= len(digits) <= 11):
            return False
        return self._phones.is_national(candidate, digits)

    def _is_international_phone(self, candidate: str) -> bool:
        text = candidate if candidate[0] == "+" else "+" + candidate[2:]
        # "+44 (0)20 ...": the bracketed trunk prefix is common in Europe; phonenumbers
        # rejects it inside an international number.
        return self._phones.is_international(text.replace("(0)", ""))


# Digits per group (digits between other characters) of the values a sequence cut from
# a longer run may be read as (see _EMBEDDED_TYPES and _written_as_a_phone): an SSN, a
# card (fours, the fourth and fifth group shorter, or Amex and Diners' 4-6-5 and 4-6-4),
# an Aadhaar number, a NIR, a German tax id, a North American number ("1-415-555-0132",
# "1415-555-0132").
_CUT_SHAPES = frozenset(
    {
        (3, 2, 4),
        (4, 4, 4),
        (4, 6, 4),
        (4, 6, 5),
        (1, 2, 2, 2, 3, 3, 2),
        (13, 2),
        (2, 3, 3, 3),
        (3, 3, 3, 2),
        (3, 3, 4),
        (1, 3, 3, 4),
        (4, 3, 4),
    }
)
_DIGIT_GROUP = re.compile(r"\d+")


def may_stand_cut(candidate: str, mode: int) -> bool:
    """Whether a sequence cut from a run may be a value read as EMBEDDED or COVERING: a
    necessary condition that costs one pass over the candidate, where most sequences of a
    table of numbers end (tests/redaction/test_runs.py holds it necessary). A sequence
    opening with "+", "00" or "(" (or "0", COVERING) may be a phone number in any grouping;
    a dotted quad or a single group is left to the checks."""
    if candidate.startswith(("+", "(", "00")) or candidate.count(".") == 3:
        return True
    if mode == COVERING and candidate.startswith("0"):
        return True
    sizes = tuple(len(group) for group in _DIGIT_GROUP.findall(candidate))
    if len(sizes) < 2 or sizes in _CUT_SHAPES:
        return True
    # Cards grouped in fours with a shorter fourth and fifth group.
    return (
        sizes[:3] == (4, 4, 4)
        and len(sizes) <= 5
        and sizes[3] <= 4
        and (len(sizes) == 4 or sizes[4] <= 3)
    )


def printed(mode: int) -> list[tuple[str, list[tuple[int, ...]] | None]]:
    """The checksummed types a mode admits, with their printed groupings (None: any)."""
    types = _EMBEDDED_TYPES if mode == EMBEDDED else _COVERING_TYPES
    return [(entity, None if p is None else sorted(p)) for entity, p in types.items()]


def _group_sizes(candidate: str) -> tuple[int, ...]:
    return tuple(len(group) for group in re.split(r"[ .\-/]", candidate) if group)


def _written_as_a_phone(candidate: str, mode: int) -> bool:
    """A national number inside a longer run: with a bracketed area code or in the North
    American grouping; covering a run, with its trunk "0" too. Groups after the first
    hold two digits or more, and are not all of four digits or more like the first (a
    row of a table of numbers: "0866 5595")."""
    if _NANP_GROUPED.fullmatch(candidate):
        return True
    widths = [len(run_digits(group)) for group in candidate.split(" ")]
    lead = "0(" if mode == COVERING else "("
    return (
        candidate[0] in lead
        and all(width >= 2 for width in widths[1:])
        and not (widths[0] >= 4 and all(width == widths[0] for width in widths))
    )
