"""Checks that turn a regex candidate into a typed value, or reject it as a look-alike.

Each check runs only on a candidate the combined prefilter found, so the expensive
validators (phonenumbers above all) see a handful of strings per prompt.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

from stdnum import iban
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.nl import bsn

from policy_engine.redaction._phones import PhoneValidator

DEFAULT_PHONE_REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN")

_RUN_SEPARATORS = str.maketrans("", "", "+().-/ ")
_DATE = re.compile(r"\d{1,4}([./-])\d{1,2}\1\d{1,4}")
_SSN = re.compile(r"(\d{3})([ .-])(\d{2})\2(\d{4})")
_DOTTED_QUAD = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
# Unbroken, or grouped the way cards are printed: fours (the last group shorter), or
# Amex/Diners 4-6-5 and 4-6-4. Arbitrary grouping would let a run of unrelated
# numbers that happens to pass Luhn count as a card.
_CARD_SHAPE = re.compile(
    r"\d{12,19}|\d{4}(?P<s>[ -])\d{6}(?P=s)\d{4,5}"
    r"|\d{4}(?P<t>[ -])\d{4}(?P=t)\d{4}(?:(?P=t)\d{1,4}(?:(?P=t)\d{1,3})?)?"
)
_NANP = re.compile(r"\(?\d{3}\)?[ .-]?\d{3}[ .-]?\d{4}")
_MAESTRO_IIN = re.compile(r"5[06-8]|6")  # the only 12-digit cards
_CARD_WORD = re.compile(r"(?i)card|karte|carte|tarjeta|carta|kaart")
_STRONG_CHECKS = frozenset({"DE_TAX_ID", "FR_NIR"})
_VERSION_WORD = re.compile(r"(?i)\b(?:version|release|build|ver\.?|v)\s*$")
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# Card issuer prefixes (Visa, Mastercard, Maestro, Amex, Diners, JCB incl. its legacy
# 1800/2131, Discover, UnionPay, RuPay): a Luhn pass alone accepts one random number
# in ten, so order numbers need this second gate.
_CARD_IIN = re.compile(r"4|5[0-8]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[0-8]|6\d|1800|2131")
# Luhn doubles every second digit from the right; this maps a digit to the digit sum
# of its double (7 -> 14 -> 5).
_DOUBLED = str.maketrans("0123456789", "0246813579")


def run_digits(run: str) -> str:
    """The digits of a digit run or of a part of one, which holds nothing but digits and
    the characters of its separators (see _patterns._NUMBER)."""
    return run.translate(_RUN_SEPARATORS)


def is_ipv4(candidate: str, preceding: str) -> bool:
    """A valid dotted quad that is not introduced as a version ("v1.2.3.4", "version 1.2.3.4")."""
    if _VERSION_WORD.search(preceding[-16:]):
        return False
    try:
        ipaddress.IPv4Address(candidate)
    except ValueError:
        return False
    return True


def is_ipv6(candidate: str) -> bool:
    try:
        address = ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    # "::" and "::1" carry no information about anyone; "a::b"-like code tokens are rare
    # enough next to the cost of missing a real address.
    return not (address.is_unspecified or address.is_loopback)


def is_email_domain(domain: str) -> bool:
    labels = domain.split(".")
    return len(labels) >= 2 and labels[-1].isalpha() and all(labels)


def is_nino(candidate: str) -> bool:
    """UK National Insurance number: python-stdnum has no module for it, hence HMRC rules."""
    compact = candidate.replace(" ", "").upper()
    if len(compact) != 9:
        return False
    prefix = compact[:2]
    return (
        prefix[0] not in "DFIQUV"
        and prefix[1] not in "DFIOQUV"
        and prefix not in _NINO_BAD_PREFIXES
        and compact[2:8].isdigit()
        and compact[8] in "ABCD"
    )


def national_id_type(candidate: str) -> str | None:
    """Alphanumeric national IDs: Spanish DNI/NIE, Italian codice fiscale."""
    compact = candidate.replace("-", "").replace(" ", "").upper()
    if len(compact) == 16:
        return "IT_FISCAL_CODE" if codicefiscale.is_valid(compact) else None
    if compact[0] in "XYZ":
        return "ES_NIE" if nie.is_valid(compact) else None
    return "ES_NIF" if dni.is_valid(compact) else None


def is_iban(candidate: str) -> bool:
    return bool(iban.is_valid(candidate))


class NumberClassifier:
    """Decides what a run of digits and separators is, if anything.

    Order matters: the checksummed formats (card, SSN rules, national IDs) are tried
    before phone numbers, whose validation accepts far more digit strings.
    """

    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self._phones = PhoneValidator(phone_regions)

    def classify(self, candidate: str, preceding: str, *, whole: bool = True) -> str | None:
        """The type of a digit run or of a part of one; `whole` is False for groups cut
        from a longer run, which then need a strong check (an international prefix, an
        SSN's shape, a 1-in-97 or stricter checksum) to count."""
        if _DOTTED_QUAD.fullmatch(candidate):
            return "IP_ADDRESS" if is_ipv4(candidate, preceding) else None
        digits = run_digits(candidate)
        if len(digits) < 6:
            return None
        ssn = _SSN.fullmatch(candidate)
        if ssn is not None:
            return "US_SSN" if _is_ssn(int(ssn[1]), int(ssn[3]), int(ssn[4])) else None
        if candidate[0] == "+" or candidate.startswith("00"):
            return "PHONE_NUMBER" if self._is_international_phone(candidate) else None
        if _DATE.fullmatch(candidate):
            return None
        entity = _checksummed(candidate, digits, preceding)
        if not whole:
            return entity if entity in _STRONG_CHECKS else None
        if entity is not None:
            return entity
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


def _luhn(digits: str) -> bool:
    """stdnum's luhn.is_valid for a non-empty digit string, in C loops (~0.5 µs, not ~3):
    the digit sum is the byte sum less 48 per ASCII digit. stdnum rejects other digits."""
    if not digits.isascii():
        return False
    summed = digits[-1::-2] + digits[-2::-2].translate(_DOUBLED)
    return (sum(summed.encode()) - 48 * len(digits)) % 10 == 0


def _is_ssn(area: int, group: int, serial: int) -> bool:
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


def _checksummed(candidate: str, digits: str, preceding: str) -> str | None:
    count = len(digits)
    # Stronger checks first: the NIR's mod 97 before Luhn (15-digit Amex and 2-series
    # Mastercard), Verhoeff before Luhn for 12 digits unless the text says "card".
    if count == 15 and nir.is_valid(digits):
        return "FR_NIR"
    aadhaar_valid = count == 12 and aadhaar.is_valid(digits)
    if aadhaar_valid and _CARD_WORD.search(preceding) is None:
        return "IN_AADHAAR"
    if (
        12 <= count <= 19
        and _CARD_SHAPE.fullmatch(candidate)
        and (_MAESTRO_IIN if count == 12 else _CARD_IIN).match(digits)
        and _luhn(digits)
    ):
        return "CREDIT_CARD"
    if aadhaar_valid:
        return "IN_AADHAAR"
    if count == 11 and idnr.is_valid(digits):
        return "DE_TAX_ID"
    if count == 9 and candidate.replace(".", "").isdigit() and bsn.is_valid(digits):
        return "NL_BSN"
    return None
