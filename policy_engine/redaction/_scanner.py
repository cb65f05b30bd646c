"""The candidate scan: where a family's pattern matches around a gate hit, before any check.

The native scanner (`native/scan`) runs the same patterns the same way over the same
skeleton; tests/redaction/test_scan.py holds the two equal at every position.
"""

from __future__ import annotations

import re

from policy_engine.redaction._grammar import GATE_LITERALS, PATTERN, STEP
from policy_engine.redaction._secrets import NAME_GATES
from policy_engine.redaction._skeleton import LETTER

COMPILED = re.compile(PATTERN)
GATE = re.compile("|".join(re.escape(literal) for literal in GATE_LITERALS))
# Characters rare in prose that most gate literals hold near their start: a text is
# scanned for these (and for the literals holding none), which stops far less often
# than a scan for the gate's own literals ("e" and "s" start half the words), and the
# gate is looked for only around each hit.
_HINT_CHARACTERS = "0123456789@_:~-"
HINTS = tuple(
    dict.fromkeys(
        (
            *_HINT_CHARACTERS,
            *(g for g in GATE_LITERALS if not any(c in _HINT_CHARACTERS for c in g)),
        )
    )
)
HINT = re.compile("|".join(re.escape(hint) for hint in HINTS))
# Farthest a gate literal's hint starts from the literal's own start.
HINT_OFFSET = max(
    min((i for i, c in enumerate(g) if c in _HINT_CHARACTERS), default=0) for g in GATE_LITERALS
)
LONGEST_GATE_LITERAL = max(map(len, GATE_LITERALS))
RUN_GOES_ON = re.compile(STEP)
# The rest of a run past the pattern's cap, read a bounded piece at a time.
RUN_REST = re.compile(f"{STEP}*+")
RUN_PIECE = 4096
# The last group of a run glued to what follows: a word ("...0958 12345678Z"), another
# number ("2024-03-05T10", an IPv6 address's "2001:"), but not a port after an address
# ("203.0.113.7:8080") or an "x123" extension.
GLUED = re.compile(rf"(?!x\d)[\w{LETTER}]|[.\-/]\d|:(?!\d{{1,5}}(?![\w{LETTER}:.]))[\w{LETTER}]")
_NON_WORD = re.compile(rf"[^\w{LETTER}]")
# What can start right after a word character (the families' lookbehinds forbid the
# rest): a key block's dashes anywhere, and after a letter a digit run's "+", "%2B" or
# "(" (its digits are tried as glued starts). tests/redaction/test_prefilter.py holds
# that nothing else can.
AFTER_DIGIT = "-"
AFTER_LETTER = "-+%("
# Where a digit run may start inside a token although a word character precedes it.
_GLUED_START = re.compile(rf"(?<=[A-Za-z_{LETTER}])(?:\d|\+|%2[Bb])")
_HEX_TOKEN = re.compile(r"[0-9A-Fa-f]+")
_HEX_DIGITS = "0123456789abcdefABCDEF"
# Longest value (but a key block) that can run past the token holding its gate hit:
# grouped numbers, IBANs, NINOs, "Bearer <token>", a quoted password.
MULTI_TOKEN_REACH = 48
# How far past a gate hit a value may start in the hit's token: a longer token (a blob, a
# digest, a text without spaces) is read a stretch at a time, so that no position of it
# is tried again for every gate hit it holds.
TOKEN_REACH = 256
# How far a hex stretch is followed to see whether it is a whole token of hex digits.
HEX_REACH = 128
# Longest separator inside a number (" (415) "), so a value cut by a bound ends this close.
SEPARATOR_REACH = 9
# Gate literals of families whose match can run far past the hit: a key block is matched
# to the end of the text (its pattern stops at the next BEGIN line), a credential's name
# to the end of the longest value it may be given (a quoted value may hold spaces).
UNBOUNDED = frozenset({"-----BEGIN", "---- BEGIN", "Private-Lines"})
NAMED = frozenset({*NAME_GATES, "uthorization", "UTHORIZATION"})
NAMED_REACH = 320
# Token bounds come from a copy with all whitespace as " ", so one rfind finds them.
_FLAT = str.maketrans("\n\r\f\v", "    ")

# A candidate value: its family (the pattern's group name), the match's bounds, and the
# value's bounds inside it (the secret of "Bearer <token>"; a number run less a last
# group glued to a word).
Candidate = tuple[str, int, int, int, int]


class Scanner:
    """The next candidate at or after a position, over a skeleton (see _skeleton)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._flat: str | None = None

    def __call__(self, pos: int) -> Candidate | None:
        text = self._text
        while (gate := next_gate(text, pos)) is not None:
            # The full pattern runs only around the gate hit: from the start of its
            # token (or the one before, for "AB 12 34 56 C") to a bound past it.
            hit = gate.start()
            if self._flat is None:
                self._flat = text.translate(_FLAT)
            start = token_start(self._flat, pos, hit)
            end_of_token = token_end(self._flat, hit)
            endpos = max(end_of_token, hit + MULTI_TOKEN_REACH)
            if gate.group() in UNBOUNDED:
                endpos = len(text)
            elif gate.group() in NAMED:
                endpos = max(endpos, hit + NAMED_REACH)
            match = first_match(text, start, end_of_token, endpos)
            if match is not None and match.end() > endpos - SEPARATOR_REACH:
                # Maybe cut short by the bound (a value stops short of it when the bound
                # falls in a separator or a quoted value): match again without it.
                match = COMPILED.match(text, match.start())
            if match is None:
                pos = end_of_token
                continue
            kind = match.lastgroup or ""
            begin, end = match.span()
            if kind != "number":
                return kind, begin, end, match.start(kind), match.end(kind)
            end = run_end(text, end)
            if hex_digits(text, begin, end):
                pos = end
                continue
            return kind, begin, end, begin, value_end(text, begin, end)
        return None


def next_gate(text: str, pos: int) -> re.Match[str] | None:
    """`GATE.search(text, pos)`, found by scanning for hints instead.

    A gate hit at g holds a hint in [g, g + HINT_OFFSET], so none starts before the
    first hint less that offset, and one starting by the hint lies whole in the window
    searched; past the hint, the next hint tells again.
    """
    while (hint := HINT.search(text, pos)) is not None:
        at = hint.start()
        gate = GATE.search(text, max(pos, at - HINT_OFFSET), at + LONGEST_GATE_LITERAL)
        if gate is not None and gate.start() <= at:
            return gate
        pos = at + 1
    return None


def first_match(text: str, start: int, stop: int, endpos: int) -> re.Match[str] | None:
    """The first match starting in [start, stop), the gate hit's token.

    Every family's lookbehind forbids a start right after a word character but a digit
    run's, which may start after a letter: a match can start only at `start`, at a
    non-word character or just after one, or where a letter meets a digit, a "+" or a
    "%2B". A few anchored tries instead of a search that would run on past the token
    (and be run again from the next gate hit). Values starting later have their own
    gate hit.
    """
    match = COMPILED.match(text, start, endpos)
    if match is not None:
        return match
    boundaries = sorted(
        {
            *(p for m in _NON_WORD.finditer(text, start, stop) for p in (m.start(), m.end())),
            *(m.start() for m in _GLUED_START.finditer(text, start, stop)),
        }
    )
    for position in boundaries:
        if position <= start or not may_start(text, position):
            continue
        if match := COMPILED.match(text, position, endpos):
            return match
    return None


def may_start(text: str, position: int) -> bool:
    """Whether a match may start at a boundary, from the characters either side of it."""
    if position == 0 or position == len(text) or _NON_WORD.match(text, position - 1):
        return True
    before = text[position - 1]
    if before in "0123456789":
        return text[position] in AFTER_DIGIT
    return text[position] in AFTER_LETTER or text[position] in "0123456789"


def run_end(text: str, end: int) -> int:
    """The end of the digit run a match of the pattern (capped) ends at `end`."""
    while RUN_GOES_ON.match(text, end) is not None:
        rest = RUN_REST.match(text, end, end + RUN_PIECE)
        assert rest is not None, "matches the empty string at least"
        end = rest.end()
    return end


def value_end(text: str, begin: int, end: int) -> int:
    """Where the value of the run text[begin:end] ends: before a last group glued to what
    follows (see GLUED)."""
    if GLUED.match(text, end) is None:
        return end
    # The only whitespace a run can hold is " " (see _grammar.STEP).
    cut = text.rfind(" ", begin, end)
    return begin + len(text[begin:cut].rstrip()) if cut > begin else begin


def hex_digits(text: str, begin: int, end: int) -> bool:
    """Whether the run is digits inside a hexadecimal token (a digest, an id), glued to
    hex letters before it: such runs are not values. A hex stretch going on HEX_REACH
    past the run either way is taken for such a token without looking for its ends."""
    if begin == 0 or text[begin - 1] not in "abcdefABCDEF":
        return False
    floor = max(0, begin - HEX_REACH)
    first = begin - 1
    while first > floor and text[first - 1] in _HEX_DIGITS:
        first -= 1
    if first == floor and floor > 0 and text[floor - 1] in _HEX_DIGITS:
        return True
    if _word_at(text, first - 1):
        return False
    token = _HEX_TOKEN.match(text, first, end + HEX_REACH)
    assert token is not None, "starts with the hex letter before the run"
    if token.end() == end + HEX_REACH:
        return True
    return token.end() >= end and not _word_at(text, token.end())


def _word_at(text: str, index: int) -> bool:
    return 0 <= index < len(text) and _NON_WORD.match(text, index) is None


def token_start(flat: str, pos: int, index: int) -> int:
    """Where the token holding `index` starts, or `pos` if before it: a two-letter token
    before it (a NINO's prefix) may belong to a value too."""
    start = flat.rfind(" ", pos, index) + 1
    if start == 0:
        return pos
    if flat.rfind(" ", max(0, start - 4), start - 1) == start - 4:
        return max(pos, start - 3)
    return start


def token_end(flat: str, index: int) -> int:
    """Where the token holding `index` ends, or TOKEN_REACH past it."""
    end = flat.find(" ", index, index + TOKEN_REACH)
    return min(len(flat), index + TOKEN_REACH) if end < 0 else end
