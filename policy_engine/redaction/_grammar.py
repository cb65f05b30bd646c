"""The detector's patterns: one alternative per family, each a named group, over the skeleton.

Every family is one alternative of a single pattern, so a text is scanned once whatever
the number of types. Families that can start at the same position are ordered so that
a candidate rejected by its checks can never hide a value of a later family starting
there. The sources are written in the syntax Python's `re` and PCRE2 read alike, over
ASCII text (the skeleton, see _skeleton), where `\\d`, `\\w` and `\\s` mean the same in
both; Python's `\\s` also takes \\x1c-\\x1f, written out beside it for PCRE2.
"""

from __future__ import annotations

from policy_engine.redaction._secrets import (
    AUTH_SCHEMES,
    AWS_SECRET_KEY,
    KEY_NAMES,
    NAME_GATES,
    NOT_A_VALUE,
    PASS_SUFFIX,
    PASSWORD_NAMES,
    PREFIXED_TOKENS,
)
from policy_engine.redaction._skeleton import LETTER, SCRIPT

_SPACE = r"[\s\x1c-\x1f]"
_NOT_SPACE = r"[^\s\x1c-\x1f]"
# A character of a word: an ASCII one or any other letter (LETTER); a script written
# without spaces (SCRIPT) is a boundary, as a space is.
_WORD = rf"\w{LETTER}"

# A line ends at a newline, or at an escaped one (a key pasted inside a JSON string); the
# last line of a quoted key at the closing quote.
_NEWLINE = r"(?:\r?\n|\\n)"
_LINE_END = rf"(?=[ \t]*+(?:{_NEWLINE}|[\"'`]|$))"
# A private key block: to its END line, or through its last base64 line when the END line
# is missing (a key cut short when pasted still holds the key's first bytes). gitleaks
# private-key; detect-secrets private_key.py (which finds a BEGIN line alone). The body
# holds no "-": it ends at the END line or short of the next BEGIN line, so a text of
# BEGIN lines is read once.
_KEY_TYPE = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_KEY_HEADERS = r"(?:(?:[ \t\r\n]|\\n)*+(?:Proc-Type|DEK-Info|Comment|Version|Hash): [^\r\n\\]*+)*+"
_KEY_BODY = r"[A-Za-z0-9+/= \t\r\n\x0b\x0c\\]{1,16384}+"
_PEM = (
    rf"(?P<pem>-----BEGIN {_KEY_TYPE}-----{_KEY_HEADERS}"
    rf"(?:{_KEY_BODY}-----END {_KEY_TYPE}-----"
    rf"|(?:[ \t\r\n]|\\n){{0,4}}+[A-Za-z0-9+/=]{{16,}}+"
    rf"(?:{_NEWLINE}[A-Za-z0-9+/=]{{4,}}+{_LINE_END})*+)"
    rf"|---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----{_KEY_HEADERS}{_KEY_BODY}"
    r"---- END SSH2 ENCRYPTED PRIVATE KEY ----)"
)
# PuTTY's key files hold the private key in the lines after "Private-Lines: n"
# (detect-secrets private_key.py's PuTTY-User-Key-File).
_PPK = (
    rf"(?<![{_WORD}-])Private-Lines: \d{{1,4}}[ \t]*+{_NEWLINE}"
    rf"(?P<ppk>[A-Za-z0-9+/=]{{4,}}+{_LINE_END}(?:{_NEWLINE}[A-Za-z0-9+/=]{{4,}}+{_LINE_END})*+)"
)
_TOKEN = (
    rf"(?P<token>(?<![{_WORD}-])(?:"
    + "|".join(pattern for _, pattern in PREFIXED_TOKENS)
    + rf")(?![{_WORD}-]))"
)
# The credential of an Authorization header, after its scheme if it names one.
_AUTH_HEADER = (
    rf"(?<![{_WORD}-])(?i:(?:proxy-)?authorization)[\"']?[ \t]*+[:=][ \t]*+[\"']?"
    rf"(?:{AUTH_SCHEMES}[ \t]++)?(?P<auth>[A-Za-z0-9._~+/-]{{8,}}+=*+)(?![\w.~+/=-])"
)
_BEARER = rf"(?<![\w-])[Bb]earer{_SPACE}+(?P<bearer>[A-Za-z0-9._~+/-]{{8,}}=*)(?![\w.~+/=-])"
# Only the password of scheme://user:password@host is a secret; the rest is an address.
_URL_PASSWORD = (  # a pattern, not a password
    r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s\x1c-\x1f:/@]+"  # noqa: S105
    r":(?P<url_password>[^\s\x1c-\x1f/@]+)@"
)
# A name ending in a credential word, an assignment (=, :, :=, =>, or an XML element's
# ">"), then the value: in quotes (spaces allowed), or up to a space or a delimiter.
_NAME_START = rf"(?<![{_WORD}.-])[\"'<]?[A-Za-z0-9_.-]{{0,40}}?"
_ASSIGN = r"\d{0,3}[\"'\]]?[ \t]*+(?:=>|:=|=|:|>)[ \t]*+[\"'`]?"
_QUOTED = r"(?<=[\"'`])[^\"'`\r\n]{1,256}+(?=[\"'`])"
_BARE = r"[^\s\x1c-\x1f\"'`,;&<>]{1,256}+"
_PASSWORD = (
    rf"{_NAME_START}(?:{PASSWORD_NAMES}|(?<=[_.-]){PASS_SUFFIX}){_ASSIGN}{NOT_A_VALUE}"
    rf"(?P<password>{_QUOTED}|{_BARE})"
)
_KEY_VALUE = r"(?=[^\s\"'`,;&<>]{8})(?=[^\s\"'`,;&<>]{16}|[^\s\"'`,;&<>]{0,255}?\d)"
_API_KEY = (
    rf"{_NAME_START}{KEY_NAMES}{_ASSIGN}{NOT_A_VALUE}{_KEY_VALUE}"
    rf"(?P<api_key>{_QUOTED}|{_BARE})"
)
_AWS_SECRET = rf"(?P<aws_secret>{AWS_SECRET_KEY})"
# Local part and domain may hold any letter (internationalised addresses, RFC 6531); a
# domain label of a script written without spaces is trimmed off by the check. Bounded as
# RFC 5321 bounds them (64 characters before the "@", 63 per label), so a long token is
# not read to its end for an "@" at every position tried.
_EMAIL = (
    rf"(?P<email>(?<![{_WORD}{SCRIPT}.%+-])[A-Za-z0-9._%+{LETTER}{SCRIPT}-]{{1,64}}"
    rf"@[A-Za-z0-9{LETTER}{SCRIPT}-]{{1,63}}(?:\.[A-Za-z0-9{LETTER}{SCRIPT}-]{{1,63}}){{1,8}})"
)
_NINO = rf"(?P<nino>(?<![{_WORD}])[A-Za-z]{{2}} ?\d{{2}} ?\d{{2}} ?\d{{2}} ?[A-Da-d](?![{_WORD}]))"
_NATIONAL_ID = (
    rf"(?P<national_id>(?<![{_WORD}-])(?:"
    # Italian codice fiscale, with omocodia letters allowed in the digit positions.
    r"[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{3}[A-Za-z]"
    r"|[XYZxyz]-?\d{7}-?[A-Za-z]"
    r"|\d{8}-?[A-Za-z]"
    # A French NIR of someone born in Corsica: the department is "2A" or "2B".
    r"|[12] ?\d{2} ?\d{2} ?2[ABab] ?\d{3} ?\d{3} ?\d{2}"
    rf")(?![{_WORD}-]))"
)
# Either case: a pasted IBAN is often lower-cased; grouped by spaces or not.
_IBAN = rf"(?P<iban>(?<![{_WORD}])[A-Za-z]{{2}}\d{{2}}(?: ?[A-Za-z0-9]){{11,30}}(?![{_WORD}]))"
_IPV6 = (
    r"(?P<ipv6>(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|:)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}"
    r"(?:\.\d{1,3}){0,3}(?![\w:]))"
)
# One step of a digit run: a digit, a separator and a digit, or an area code in brackets
# ("(415)", "(0)") with the separators around it. At most one alternative can match at a
# point, so their order does not change a match.
STEP = r"(?:\d|[ .\-/]\d|[ .\-]?\(\d{1,5}\)[ .\-]?\d)"
# Digit runs: phone numbers, cards, IDs, dotted quads, with the separators they are
# written with. A run starts after anything but a digit, a dot, a "+", an "@" or the
# colon of a time or a port ("12:30:45.123456", "10.0.0.1:8080"): after a label's colon,
# a bracket, "=", "#", "/", a hyphen or a letter too ("SSN:123-45-6789", "tel:+44...",
# "card4111..."); how it may be read then depends on what precedes it (see _numbers).
# It may open with "+" (or "%2B", a URL-encoded "+") and a bracketed area code.
# The possessive quantifier keeps the engine from retrying every shorter prefix of a run;
# the scan reads a run past the cap with STEP (see _scanner).
_NUMBER = (
    r"(?P<number>(?<![\d.+@])(?<!\d:)(?:\+|%2[Bb])?(?:\(\d{1,5}\)[ .\-]?)?"
    rf"\d{STEP}{{3,63}}+)"
)

PATTERN = "|".join(
    (
        _PEM,
        _PPK,
        _TOKEN,
        _AUTH_HEADER,
        _BEARER,
        _URL_PASSWORD,
        _PASSWORD,
        _API_KEY,
        _AWS_SECRET,
        _EMAIL,
        _NINO,
        _NATIONAL_ID,
        _IBAN,
        _IPV6,
        _NUMBER,
    )
)
# The families whose value is a secret as matched, without any further check.
SECRET_FAMILIES = frozenset(
    {"pem", "ppk", "token", "auth", "bearer", "url_password", "password", "api_key", "aws_secret"}
)

# Every value the pattern accepts contains one of these, so a text without any holds
# none. Plain literals, so that `re`'s first-character table applies to their alternation.
GATE_LITERALS: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            *"0123456789@",
            *("://", "::", "Bearer", "bearer", "-----BEGIN", "---- BEGIN", "Private-Lines"),
            *("uthorization", "UTHORIZATION"),
            *NAME_GATES,
            *(gate for gates, _ in PREFIXED_TOKENS for gate in gates),
        )
    )
)
