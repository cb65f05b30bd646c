"""The structured-PII detector: one combined regex pass, then validation of candidates only.

Every family is one alternative of a single compiled pattern, so the text is scanned
once whatever the number of types or phone regions. Families whose shapes can start
at the same position are ordered so that a candidate rejected by its validator can
never hide a valid value of a later family starting there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from adapters._native import pure_python
from policy_engine.redaction._types import ENTITY_TYPES, Span
from policy_engine.redaction._validators import (
    DEFAULT_PHONE_REGIONS,
    NumberClassifier,
    is_email_domain,
    is_iban,
    is_ipv6,
    is_nino,
    national_id_type,
    run_digits,
)

if TYPE_CHECKING:
    from policy_engine.redaction._scan import Patterns as NativePatterns

# Python's \s takes \x1c-\x1f for whitespace and PCRE2's (the native scan) does not:
# they are written out beside it, which changes nothing for Python.
_CREDENTIALS = (
    r"(?P<pem>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]{1,16384}?"
    r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)"
    r"|(?P<token>(?<![\w-])(?:"
    r"sk-[A-Za-z0-9_-]{20,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,255}"
    r"|github_pat_[A-Za-z0-9_]{22,255}"
    r"|eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"
    r")(?![\w-]))"
    r"|(?<![\w-])[Bb]earer[\s\x1c-\x1f]+(?P<bearer>[A-Za-z0-9._~+/-]{8,}=*)(?![\w.~+/=-])"
    # Only the password of scheme://user:password@host is a secret; the rest is an address.
    r"|(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s\x1c-\x1f:/@]+"
    r":(?P<url_password>[^\s\x1c-\x1f/@]+)@"
)
_EMAIL = r"(?P<email>(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
_NINO = r"(?P<nino>(?<!\w)[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d](?!\w))"
_NATIONAL_ID = (
    r"(?P<national_id>(?<![\w-])(?:"
    # Italian codice fiscale, with omocodia letters allowed in the digit positions.
    r"[A-Za-z]{6}[0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{2}[A-Za-z][0-9LMNP-Vlmnp-v]{3}[A-Za-z]"
    r"|[XYZxyz]-?\d{7}-?[A-Za-z]"
    r"|\d{8}-?[A-Za-z]"
    r")(?![\w-]))"
)
_IBAN = r"(?P<iban>(?<!\w)[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?!\w))"
_IPV6 = (
    r"(?P<ipv6>(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:|:)(?:[0-9A-Fa-f]{0,4}:){1,7}[0-9A-Fa-f]{0,4}"
    r"(?:\.\d{1,3}){0,3}(?![\w:]))"
)
# Digit runs with the separators phone numbers, cards and IDs are written with. The
# possessive quantifier keeps the engine from retrying every shorter prefix of a run;
# a last group glued to a word ("12345678Z") is dropped after the match. An inner
# "(" is only the European "(0)", so "(415) 555-0132 (415) 555-0132" stays two runs.
# At any point at most one separator can be followed by a digit, so the branches'
# order does not change the match: a bare digit, the commonest, is tried first.
_NUMBER = r"(?P<number>(?<![\w.+/#@:(-])\+?\(?\d(?:\d|[ .\-/]\d|\)[ .-]?\d| ?\(0\) ?\d){3,63}+)"
_PATTERN = re.compile("|".join((_CREDENTIALS, _EMAIL, _NINO, _NATIONAL_ID, _IBAN, _IPV6, _NUMBER)))
_NON_WORD = re.compile(r"\W")
_GLUED = re.compile(r"(?!x\d)\w|[.\-/]\d|:\w")
_RUN_GOES_ON = re.compile(r"(?:[ .\-/]|\) ?| ?\(0\) ?|\)[ .-])?\d")
# The rest of a run past the cap, as _NUMBER would go on matching it without one.
_RUN_REST = re.compile(r"(?:\d|[ .\-/]\d|\)[ .-]?\d| ?\(0\) ?\d)*+")
# Runs up to this long are covered whole. Read a capped piece at a time, a value the cap
# cuts, or one that takes the first groups of the next, could hide the values after it:
# a piece's cover can only be greedy at its end.
_WHOLE_RUN_CHARS = 1024
# Every value the pattern accepts contains one of these. Scanning for them first skips
# prose at C speed; written as plain literals so the engine's first-character table
# applies (a character class in the alternation would switch that off).
_GATE_LITERALS = (
    *"0123456789@",
    *("://", "::", "Bearer", "bearer", "-----BEGIN"),
    *("sk-", "AKIA", "ASIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "eyJ"),
)
_GATE = re.compile("|".join(_GATE_LITERALS))
# Each gate literal, or a piece of it that starts with a character rarer in prose
# ("sk-" -> "k-", "eyJ" -> "yJ", the "gh*_" tokens -> "_"): a text is scanned for these,
# which stops far less often than a scan for the gate's own ("e" and "s" start half the
# words), and the gate is looked for only around each hit.
_HINT = re.compile(
    "|".join(
        (
            *"0123456789@_",
            *("://", "::", "Bearer", "bearer", "-----BEGIN", "k-", "AKIA", "ASIA", "yJ"),
        )
    )
)
# Farthest a gate literal's hint starts from the literal's own start ("github_pat_").
_HINT_OFFSET = 6
_LONGEST_GATE_LITERAL = len("github_pat_")
# Longest value (but a PEM block) that can run past the token holding its gate hit:
# grouped numbers, IBANs, NINOs, "Bearer <token>".
_MULTI_TOKEN_REACH = 48
# Longest separator inside a number (" (0) "), so a value cut by a bound ends this close.
_SEPARATOR_REACH = 6
# Characters before a candidate its validators may look at ("version", "tel.").
_CONTEXT = 40
# Most digits one value has (a 19-digit card; "00" and a 15-digit phone number).
_MAX_DIGITS = 19
# Most groups one value is written in (a French NIR: "2 64 07 75 056 874 57").
_MAX_GROUPS = 8
# Token bounds come from a copy with all whitespace as " ", so one rfind finds them.
_OTHER_SPACES = "\t\n\r\f\v"

# A candidate value: its family (the pattern's group name), the match's bounds, the
# value's bounds inside it (the secret of "Bearer <token>"; a number run less a last
# group glued to a word), and for a number run whether it goes on past the length cap.
Candidate = tuple[str, int, int, int, int, bool]


def _native_patterns() -> NativePatterns | None:
    """The same patterns, compiled by PCRE2 for the native scanner (`make setup`
    builds it from native/scan; without it, or with POLICY_ENGINE_PURE_PYTHON=1, the
    scanner below runs). With it the detector takes about half the time on the
    benchmark's prompt: 19.7 -> 10.4 µs in a tight loop (bench/PERF_NOTES.md)."""
    if pure_python():
        return None
    try:
        from policy_engine.redaction._scan import Patterns
    except ImportError:
        return None
    return Patterns(
        pattern=_PATTERN.pattern,
        gate=_GATE.pattern,
        run_goes_on=_RUN_GOES_ON.pattern,
        run_rest=_RUN_REST.pattern,
        glued=_GLUED.pattern,
        multi_token_reach=_MULTI_TOKEN_REACH,
        separator_reach=_SEPARATOR_REACH,
        whole_run_chars=_WHOLE_RUN_CHARS,
    )


_NATIVE = _native_patterns()
NATIVE_SCAN = _NATIVE is not None

# Everything but the types that need NER (found by context, not by shape).
STRUCTURED_TYPES: frozenset[str] = ENTITY_TYPES - {"PERSON", "LOCATION"}


class PatternDetector:
    """Detects every structured type of ENTITY_TYPES (all but PERSON and LOCATION)."""

    def __init__(self, phone_regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> None:
        self.entity_types: frozenset[str] = STRUCTURED_TYPES
        self._numbers = NumberClassifier(phone_regions)

    def detect(self, text: str) -> list[Span]:
        if _NATIVE is not None and text.isascii():
            try:
                return self._detect(text, _NATIVE.scanner(text))
            except _NATIVE.limit_error:
                pass  # PCRE2 stopped at one of its resource limits: the scan below has none
        return self._detect(text, _Scanner(text))

    def _detect(self, text: str, next_candidate: Callable[[int], Candidate | None]) -> list[Span]:
        spans: list[Span] = []
        pos = 0
        while (candidate := next_candidate(pos)) is not None:
            kind, begin, end, value_start, value_end, capped = candidate
            if kind == "number":
                found = self._number_spans(text[begin:value_end], begin, text, open_end=capped)
                spans.extend(found)
                if found:
                    pos = found[-1].end
                elif capped:
                    # Re-read only the last groups, which a value may straddle.
                    pos = _last_groups_start(text[begin:end], begin)
                else:
                    pos = end
                continue
            span = _validate(kind, text, begin, end, value_start, value_end)
            if span is None:
                # Resume just past the start: the lookbehinds keep the engine from
                # starting again inside the rejected token, so this stays linear.
                pos = begin + 1
            else:
                # The span may end before the match (an IBAN candidate that ran on).
                spans.append(span)
                pos = span.end
        return spans

    def _number_spans(
        self, value: str, start: int, text: str, *, open_end: bool = False
    ) -> list[Span]:
        """The values in a run of whitespace-separated digit groups.

        Two phone numbers, or a phone number and a count, can form one run: the run is
        split into values if it can be covered that way. Otherwise the first group
        sequence with a strong check (an SSN's shape, an international prefix, a German
        tax id or French NIR checksum) is taken: a phone shape or a 1-in-10 checksum is
        too easily found inside an unrelated run of digits (a failed IBAN, say).
        """
        digits = len(run_digits(value))
        if digits < 6 and value.count(".") < 3:
            # Too short for any value but a dotted quad, and so is every part (a year,
            # an amount): the commonest run in prose.
            return []
        run = _Run(self._numbers, value, text[max(0, start - _CONTEXT) : start])
        # Most runs are one value: the cover's first try, made before the groups are cut.
        # (The groups of a run are separated by single spaces: see _NUMBER.)
        groups = value.count(" ") + 1
        if groups <= _MAX_GROUPS and digits <= _MAX_DIGITS and (digits >= 7 or groups == 1):
            entity = run.verdict(0, len(value))
            if entity is not None:
                return [Span(start, start + len(value), entity)]
        covered = run.cover(0, open_end=open_end)
        if covered is not None:
            if open_end:
                # A value ending in the tail may be one the cap cut short ("06 12 34 56"
                # of "06 12 34 56 78"), or one that took the first groups of such a value
                # ("06 12 34 56 78 06"): the tail is read again, with what follows it.
                tail = run.groups[run.tail][0]
                covered = [part for part in covered if part[1] < tail]
            return [Span(start + a, start + b, t) for a, b, t in covered if t]
        for first, (begin, _, _) in enumerate(run.groups):
            for last in range(min(len(run.groups), first + _MAX_GROUPS) - 1, first - 1, -1):
                end = run.groups[last][1]
                if run.rejected(begin, end):
                    continue
                preceding = text[max(0, start + begin - _CONTEXT) : start + begin]
                entity = self._numbers.classify(value[begin:end], preceding, whole=False)
                if entity is not None:
                    return [Span(start + begin, start + end, entity)]
        return []


class _Run:
    """A digit run while it is split into values.

    Covering tries a group sequence again after each way of reaching it, and the search
    for a strong part tries them all once more: each sequence is classified once, and
    the verdicts are dropped with the run.
    """

    def __init__(self, numbers: NumberClassifier, value: str, before: str) -> None:
        self._numbers = numbers
        self._value = value
        self._before = before
        self._verdicts: dict[tuple[int, int], str | None] = {}
        self._dead_ends: set[tuple[int, bool]] = set()

    @cached_property
    def groups(self) -> list[tuple[int, int, int]]:
        # Only when the run is not one value as a whole.
        return _groups(self._value)

    @cached_property
    def tail(self) -> int:
        """The first group a value running past the end could start at: a value has at
        most _MAX_DIGITS digits in at most _MAX_GROUPS groups."""
        groups = self.groups
        total = groups[-1][2]
        first = max(0, len(groups) - _MAX_GROUPS)
        while first < len(groups) - 1:
            before = groups[first - 1][2] if first else 0
            if total - before <= _MAX_DIGITS:
                break
            first += 1
        return first

    def verdict(self, begin: int, end: int) -> str | None:
        """The type of value[begin:end] as a whole value."""
        key = (begin, end)
        if key not in self._verdicts:
            preceding = (self._before + self._value[:begin])[-_CONTEXT:]
            self._verdicts[key] = self._numbers.classify(self._value[begin:end], preceding)
        return self._verdicts[key]

    def rejected(self, begin: int, end: int) -> bool:
        # Rejected whole, a sequence is rejected as a part too: a part needs a stronger check.
        key = (begin, end)
        return key in self._verdicts and self._verdicts[key] is None

    def cover(
        self, first: int, after_phone: bool = False, *, open_end: bool = False
    ) -> list[tuple[int, int, str]] | None:
        """Groups[first:] as consecutive (start, end, type) parts; type "" is a short group,
        allowed only last in the run and after a phone number ("call 030 1234567 2
        times"): elsewhere, short groups are more likely the rest of a card or account
        number that failed its check."""
        groups = self.groups
        if first == len(groups):
            return []
        if (first, after_phone) in self._dead_ends:
            return None
        begin = groups[first][0]
        for last in range(min(len(groups), first + _MAX_GROUPS) - 1, first - 1, -1):
            end = groups[last][1]
            digits = groups[last][2] - (groups[first - 1][2] if first else 0)
            # No value has more digits; fewer than seven only as one group (an IP address).
            if digits > _MAX_DIGITS or (digits < 7 and last > first):
                continue
            entity = self.verdict(begin, end)
            if entity is None and after_phone and last == first == len(groups) - 1 and digits <= 4:
                entity = ""
            if entity is not None:
                rest = self.cover(last + 1, entity == "PHONE_NUMBER", open_end=open_end)
                if rest is not None:
                    return [(begin, end, entity), *rest]
        self._dead_ends.add((first, after_phone))
        # A capped run may stop after any value that reaches its tail: the rest is
        # scanned again. Stopping earlier would leave groups no value covers.
        return [] if open_end and first >= self.tail else None


class _Scanner:
    """The next candidate after a position: where a family's pattern matches around a
    gate hit, before any validation. The native scanner (`native/scan`, for ASCII texts)
    runs the same patterns the same way; tests/redaction/test_scan.py holds them equal."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._flat: str | None = None
        # Without an END line after it, a BEGIN line cannot open a key block; knowing
        # that once keeps a text full of BEGIN lines from being rescanned for each.
        self._last_pem_end: int | None = None

    def __call__(self, pos: int) -> Candidate | None:
        text = self._text
        while (gate := _next_gate(text, pos)) is not None:
            # The full pattern runs only around the gate hit: from the start of its
            # token (or the one before, for "AB 12 34 56 C") to a bound past it.
            hit = gate.start()
            if self._flat is None:
                self._flat = _flatten(text)
            start = max(pos, _token_start(self._flat, hit))
            token_end = _token_end(self._flat, hit)
            endpos = max(token_end, hit + _MULTI_TOKEN_REACH)
            if gate.group() == "-----BEGIN":
                if self._last_pem_end is None:
                    self._last_pem_end = text.rfind("-----END")
                if hit < self._last_pem_end:
                    endpos = len(text)
            match = _first_match(text, start, token_end, endpos)
            if match is not None and match.end() > endpos - _SEPARATOR_REACH:
                # Maybe cut short by the bound (a value stops short of it when the bound
                # falls in a separator): match again against the whole text.
                match = _PATTERN.match(text, match.start())
            if match is None:
                pos = token_end
                continue
            kind = match.lastgroup or ""
            begin, end = match.span()
            if kind != "number":
                return kind, begin, end, match.start(kind), match.end(kind), False
            capped = _RUN_GOES_ON.match(text, end) is not None
            if capped:
                # A run past the length cap is covered whole while it is short enough;
                # a longer one is read a piece at a time, its last values again from
                # where the values found in a piece stop.
                rest = _RUN_REST.match(text, end, begin + _WHOLE_RUN_CHARS)
                assert rest is not None, "matches the empty string at least"
                if _RUN_GOES_ON.match(text, rest.end()) is None:
                    end, capped = rest.end(), False
            return kind, begin, end, begin, _value_end(text, begin, end), capped
        return None


def _next_gate(text: str, pos: int) -> re.Match[str] | None:
    """`_GATE.search(text, pos)`, found by scanning for hints instead.

    A gate hit at g holds a hint in [g, g + _HINT_OFFSET], so none starts before the
    first hint less that offset, and one starting by the hint lies whole in the window
    searched; past the hint, the next hint tells again.
    """
    while (hint := _HINT.search(text, pos)) is not None:
        at = hint.start()
        gate = _GATE.search(text, max(pos, at - _HINT_OFFSET), at + _LONGEST_GATE_LITERAL)
        if gate is not None and gate.start() <= at:
            return gate
        pos = at + 1
    return None


def _flatten(text: str) -> str:
    # Most texts hold none or one of these: a few memchr scans beat one translate.
    for space in _OTHER_SPACES:
        if space in text:
            text = text.replace(space, " ")
    return text


def _first_match(text: str, start: int, stop: int, endpos: int) -> re.Match[str] | None:
    """The first match starting in [start, stop), the gate hit's token.

    Every family's lookbehind forbids a start right after a word character, so a
    match can start only at `start`, at a non-word character or just after one: a
    few anchored tries instead of a search that would run on past the token (and be
    run again from the next gate hit). Values starting later have their own gate hit.
    """
    match = _PATTERN.match(text, start, endpos)
    if match is not None:
        return match
    for other in _NON_WORD.finditer(text, start, stop):
        for position in (other.start(), other.end()):
            if position > start and (match := _PATTERN.match(text, position, endpos)):
                return match
    return None


def _validate(
    kind: str, text: str, begin: int, end: int, value_start: int, value_end: int
) -> Span | None:
    if kind in ("pem", "token", "bearer", "url_password"):
        return Span(value_start, value_end, "SECRET")
    value = text[value_start:value_end]
    check = _SIMPLE_CHECKS.get(kind)
    if check is None:
        return _iban_span(value, begin)
    entity = check(value)
    return None if entity is None else Span(begin, end, entity)


def _value_end(text: str, begin: int, end: int) -> int:
    """Where the value of the run text[begin:end] ends: before a last group that
    continues into a word or another number ("...0958 12345678Z", "2024-03-05T10", an
    IPv6 address's "2001:"); an "x123" phone extension may follow."""
    if _GLUED.match(text, end) is None:
        return end
    # The only whitespace a run can hold is " " (see _NUMBER).
    cut = text.rfind(" ", begin, end)
    return begin + len(text[begin:cut].rstrip()) if cut > begin else begin


def _groups(run: str) -> list[tuple[int, int, int]]:
    """(start, end, digits so far) of each space-separated group of a run."""
    groups = []
    total = 0
    end = -1
    for group in run.split(" "):
        start = end + 1
        end = start + len(group)
        if group:
            total += len(run_digits(group))
            groups.append((start, end, total))
    return groups


def _last_groups_start(run: str, start: int) -> int:
    cut = len(run)
    for _ in range(_MAX_GROUPS):
        cut = run.rfind(" ", 0, cut)
        if cut <= 0:
            return start + len(run)
    return start + cut + 1


def _token_start(flat: str, index: int) -> int:
    start = flat.rfind(" ", 0, index) + 1
    before = flat.rfind(" ", 0, start - 1) + 1
    # A two-letter token before (a NINO's prefix) may belong to the value.
    return before if start - before == 3 else start


def _token_end(flat: str, index: int) -> int:
    end = flat.find(" ", index)
    return len(flat) if end < 0 else end


def _iban_span(value: str, start: int) -> Span | None:
    # The candidate may have swallowed a following upper-case word's worth of groups.
    end = len(value)
    while end >= 15:
        if is_iban(value[:end]):
            return Span(start, start + end, "IBAN_CODE")
        end = value.rfind(" ", 0, end)
    return None


def _email_check(value: str) -> str | None:
    return "EMAIL_ADDRESS" if is_email_domain(value.rpartition("@")[2]) else None


_SIMPLE_CHECKS: dict[str, Callable[[str], str | None]] = {
    "email": _email_check,
    "nino": lambda value: "UK_NINO" if is_nino(value) else None,
    "national_id": national_id_type,
    "ipv6": lambda value: "IP_ADDRESS" if is_ipv6(value) else None,
}
