"""Checks that turn a regex candidate into a typed value, or reject it as a look-alike.

Each check runs only on a candidate the combined scan found, so the expensive
validators (phonenumbers above all) see a handful of strings per prompt. Candidates are
skeleton text (see _skeleton): ASCII, with LETTER and SCRIPT standing for other letters.
"""

from __future__ import annotations

import ipaddress
import re

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from stdnum import iban
from stdnum.de import idnr
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.in_ import aadhaar
from stdnum.it import codicefiscale
from stdnum.nl import bsn

from policy_engine.redaction._skeleton import LETTER, SCRIPT

# The regions whose national formats count by default: those the project started with,
# and every other country of the North American Numbering Plan, whose numbers are
# written the same way as the US's ("(250) 222-7606" is Canadian).
DEFAULT_PHONE_REGIONS: tuple[str, ...] = tuple(
    dict.fromkeys(("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", *COUNTRY_CODE_TO_REGION_CODE[1]))
)

_RUN_SEPARATORS = str.maketrans("", "", "+().-/ ")
# Unbroken, or grouped the way cards are printed: fours (the last group shorter), or
# Amex/Diners 4-6-5 and 4-6-4, with spaces, hyphens or dots between groups (mixed, as
# pasted from forms). Arbitrary grouping would let a run of unrelated numbers that
# happens to pass Luhn count as a card.
PATTERNS = {
    "card_shape": r"\d{12,19}|\d{4}[ .-]\d{6}[ .-]\d{4,5}"
    r"|\d{4}[ .-]\d{4}[ .-]\d{4}(?:[ .-]\d{1,4}(?:[ .-]\d{1,3})?)?",
    "maestro_iin": r"5[06-8]|6|0604",  # the only 12-digit cards
    "card_word": r"(?i)card|karte|carte|tarjeta|carta|kaart",
    "version_word": r"(?i)\b(?:version|release|build|ver\.?|v)\s*$",
    # Card issuer prefixes (Visa, Mastercard, Maestro incl. its legacy 0604, Amex,
    # Diners, JCB incl. its legacy 1800/2131, Discover, UnionPay, RuPay): a Luhn pass
    # alone accepts one random number in ten, so order numbers need this second gate.
    "card_iin": r"4|5[0-8]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[0-8]|6\d|1800|2131|0604",
    # A BSN unbroken or as printed ("1112.22.333").
    "bsn_written": r"\d{9}|\d{4}\.\d{2}\.\d{3}",
    "top_level_domain": rf"[A-Za-z{LETTER}{SCRIPT}]{{2,}}|xn--[A-Za-z0-9-]+",
}
_CARD_SHAPE = re.compile(PATTERNS["card_shape"])
_MAESTRO_IIN = re.compile(PATTERNS["maestro_iin"])
_CARD_WORD = re.compile(PATTERNS["card_word"])
_VERSION_WORD = re.compile(PATTERNS["version_word"])
_CARD_IIN = re.compile(PATTERNS["card_iin"])
NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
# How far back a version word is looked for.
VERSION_WORD_REACH = 16
# Luhn doubles every second digit from the right; this maps a digit to the digit sum
# of its double (7 -> 14 -> 5).
_DOUBLED = str.maketrans("0123456789", "0246813579")
_BSN_WRITTEN = re.compile(PATTERNS["bsn_written"])
_TOP_LEVEL_DOMAIN = re.compile(PATTERNS["top_level_domain"])


def run_digits(run: str) -> str:
    """The digits of a digit run or of a part of one, which holds nothing but digits and
    the characters of its separators (see _grammar.STEP)."""
    return run.translate(_RUN_SEPARATORS)


def version_introduced(preceding: str) -> bool:
    """The text before a number with dots introduces a version ("v1.2.3.4", "version ")."""
    return _VERSION_WORD.search(preceding[-VERSION_WORD_REACH:]) is not None


def is_ipv4(candidate: str, preceding: str) -> bool:
    """A valid dotted quad that is not introduced as a version ("v1.2.3.4", "version 1.2.3.4")."""
    if version_introduced(preceding):
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


def email_bounds(candidate: str) -> tuple[int, int] | None:
    """The address inside an e-mail candidate (skeleton text), or None: a domain of two
    labels or more whose last is a name (letters of any script, or an IDNA "xn--"
    label). Letters of a script written without spaces around an ASCII address are the
    sentence it stands in ("请发邮件到jane@example.com谢谢"), not part of it."""
    at = candidate.rfind("@")
    local, labels = candidate[:at], candidate[at + 1 :].split(".")
    start = 0
    trimmed = local.lstrip(SCRIPT)
    if trimmed and SCRIPT not in trimmed and LETTER not in trimmed:
        start = at - len(trimmed)
    last = labels[-1]
    if last[:1].isalpha():
        last = last.rstrip(SCRIPT)
    if start == at or len(labels) < 2 or not all(labels[:-1]):
        return None
    if _TOP_LEVEL_DOMAIN.fullmatch(last) is None:
        return None
    return start, len(candidate) - (len(labels[-1]) - len(last))


def is_nino(candidate: str) -> bool:
    """UK National Insurance number: python-stdnum has no module for it, hence HMRC rules."""
    compact = candidate.replace(" ", "").upper()
    if len(compact) != 9:
        return False
    prefix = compact[:2]
    return (
        prefix[0] not in "DFIQUV"
        and prefix[1] not in "DFIOQUV"
        and prefix not in NINO_BAD_PREFIXES
        and compact[2:8].isdigit()
        and compact[8] in "ABCD"
    )


def national_id_type(candidate: str) -> str | None:
    """Alphanumeric national IDs: Spanish DNI/NIE, Italian codice fiscale, a NIR born in
    Corsica ("2A", "2B" for a department)."""
    compact = candidate.replace("-", "").replace(" ", "").upper()
    if not compact:
        return None
    if len(compact) == 15:
        return "FR_NIR" if nir.is_valid(compact) else None
    if len(compact) == 16:
        return "IT_FISCAL_CODE" if codicefiscale.is_valid(compact) else None
    if compact[0] in "XYZ":
        return "ES_NIE" if nie.is_valid(compact) else None
    return "ES_NIF" if dni.is_valid(compact) else None


def is_iban(candidate: str) -> bool:
    return bool(iban.is_valid(candidate.upper()))


def is_ssn(area: int, group: int, serial: int) -> bool:
    return area not in (0, 666) and area < 900 and group != 0 and serial != 0


def luhn(digits: str) -> bool:
    """stdnum's luhn.is_valid for a non-empty digit string, in C loops (~0.5 µs, not ~3):
    the digit sum is the byte sum less 48 per ASCII digit. stdnum rejects other digits."""
    if not digits.isascii():
        return False
    summed = digits[-1::-2] + digits[-2::-2].translate(_DOUBLED)
    return (sum(summed.encode()) - 48 * len(digits)) % 10 == 0


def checksummed(candidate: str, digits: str, preceding: str) -> str | None:
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
        and luhn(digits)
    ):
        return "CREDIT_CARD"
    if aadhaar_valid:
        return "IN_AADHAAR"
    if count == 11 and idnr.is_valid(digits):
        return "DE_TAX_ID"
    if count == 9 and _BSN_WRITTEN.fullmatch(candidate) and bsn.is_valid(digits):
        return "NL_BSN"
    return None
