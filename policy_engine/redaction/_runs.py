"""A run of digit groups split into values, in time linear in the run's length.

Phone numbers, cards and IDs written one after another ("call 030 12345678 06 12 34 56
78") are one run to the scan: groups separated by single spaces, each group digits and
the separators written inside values. The run is read in this order:

1. A run short enough to be one value (at most eight groups and nineteen digits) is
   judged whole (ALONE).
2. Otherwise the run is covered by values, every group in one of them (a last short
   group may follow a phone number: "call 030 1234567 2 times"): judged ALONE in a run
   short enough to be one value, COVERING in a longer one (cells of a table are ALONE).
3. Otherwise (no cover explains the run) the values taken are those that cover the most
   digits, each judged EMBEDDED unless it is a single group, and none cut from a longer
   stretch of groups of its own width (but a card followed by its expiry year): a table
   of numbers, or a card that failed its check, does not become values by chance.

A run glued to a word is first read for a value its first groups make (GLUED), then
the groups after it are read as above. A value has at most
nineteen digits in at most eight groups, so each group ends at most eight sequences,
each judged at most once per reading: the work is linear in the run's length.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable

from policy_engine.redaction._numbers import (
    ALONE,
    COVERING,
    EMBEDDED,
    GLUED,
    NumberClassifier,
)
from policy_engine.redaction._validators import run_digits

# Most digits one value has (a 19-digit card; "00" and a 15-digit phone number).
MAX_DIGITS = 19
# Most groups one value is written in (a French NIR: "2 64 07 75 056 874 57").
MAX_GROUPS = 8
# Characters before a sequence its checks may look at ("version", "tel.", "SSN:").
CONTEXT = 40
# Longest group that may trail a phone number in a cover ("call 030 1234567 2 times").
TRAILING_DIGITS = 4

# A value found in a run: its bounds in the run and its type.
Found = tuple[int, int, str]


class Run:
    """One run while it is split: its groups, and each sequence's verdict once asked."""

    def __init__(self, numbers: NumberClassifier, run: str, before: str, glued: bool) -> None:
        self._numbers = numbers
        self._run = run
        self._before = before
        self._glued = glued
        self._verdicts: dict[tuple[int, int, int], str | None] = {}
        # Start, end and digits so far of each space-separated group.
        self.starts = array("l")
        self.ends = array("l")
        self.digits = array("l")
        end = -1
        total = 0
        for group in run.split(" "):
            start = end + 1
            end = start + len(group)
            if group:
                total += len(run_digits(group))
                self.starts.append(start)
                self.ends.append(end)
                self.digits.append(total)

    def values(self) -> list[Found]:
        count = len(self.starts)
        if count == 0:
            return []
        total = self.digits[-1]
        if total < 6 and self._run.count(".") < 3:
            # Too short for any value but a dotted quad, and so is every part (a year,
            # an amount): the commonest run in prose.
            return []
        if self._glued:
            return self._unglued()
        compact = count <= MAX_GROUPS and total <= MAX_DIGITS
        if compact and (total >= 7 or count == 1):
            entity = self.verdict(0, count - 1, ALONE)
            if entity is not None:
                return [(0, len(self._run), entity)]
        covering = ALONE if compact else COVERING
        found = self._best(lambda size: ALONE if size == 1 else covering, complete=True)
        if found:
            return found
        return self._best(
            lambda size: ALONE if size == 1 else EMBEDDED, complete=False, stretches=True
        )

    def _unglued(self) -> list[Found]:
        """A glued run: the longest value its first groups make read as GLUED, if any,
        then the groups after it (or after the first group) as a run of their own."""
        count = len(self.starts)
        head: list[Found] = []
        rest = 1
        for last in range(min(count, MAX_GROUPS) - 1, -1, -1):
            digits = self.digits[last]
            if digits <= MAX_DIGITS and (digits >= 6 or last == 0):
                entity = self.verdict(0, last, GLUED)
                if entity is not None:
                    head, rest = [(0, self.ends[last], entity)], last + 1
                    break
        if rest == count:
            return head
        skip = self.starts[rest]
        tail = Run(self._numbers, self._run[skip:], self._before + self._run[:skip], glued=False)
        return head + [(skip + a, skip + b, entity) for a, b, entity in tail.values()]

    def verdict(self, first: int, last: int, mode: int) -> str | None:
        """The type of groups[first:last + 1] read as `mode`."""
        key = (first, last, mode)
        if key not in self._verdicts:
            begin, end = self.starts[first], self.ends[last]
            preceding = (self._before + self._run[:begin])[-CONTEXT:]
            self._verdicts[key] = self._numbers.classify(self._run[begin:end], preceding, mode)
        return self._verdicts[key]

    def _best(
        self, mode_of: Callable[[int], int], *, complete: bool, stretches: bool = False
    ) -> list[Found]:
        """The values that cover the most digits, then are the fewest; with `complete`,
        only covers of every group (but a short last group after a phone number), or [];
        with `stretches`, none cut from a longer stretch of same-width groups."""
        count = len(self.starts)
        widths = [self._width(i) for i in range(count)] if stretches else []
        same_before = _same_run(widths)
        same_after = _same_run(widths[::-1])[::-1]
        # For the groups before k: digits covered and values taken by the best choice
        # (-1: none, when complete), and the groups of its last value (0: none).
        covered = array("l", [0] + [-1 if complete else 0] * count)
        values = array("l", bytes(8 * (count + 1)))
        taken = bytearray(count + 1)
        entities: dict[int, str] = {}
        for k in range(1, count + 1):
            if not complete:
                covered[k], values[k] = covered[k - 1], values[k - 1]
            for size in range(min(MAX_GROUPS, k), 0, -1):
                first = k - size
                digits = self.digits[k - 1] - (self.digits[first - 1] if first else 0)
                # No value has more digits; fewer than seven only as one group (an address).
                if covered[first] < 0 or digits > MAX_DIGITS or (digits < 7 and size > 1):
                    continue
                # Groups of one width, bounded by groups of other widths (but a card's four
                # may be followed by a fifth: an expiry year).
                if (
                    stretches
                    and size > 1
                    and same_after[first] >= size - 1
                    and (same_before[first] or same_after[k - 1] > (1 if size == 4 else 0))
                ):
                    continue
                entity = self.verdict(first, k - 1, mode_of(size))
                if entity is None:
                    continue
                more, fewer = covered[first] + digits, values[first] + 1
                if more > covered[k] or (more == covered[k] and fewer < values[k]):
                    covered[k], values[k] = more, fewer
                    taken[k] = size
                    entities[k] = entity
        end = count
        if complete and covered[count] < 0:
            last = count - 1
            short = self.digits[last] - (self.digits[last - 1] if last else 0) <= TRAILING_DIGITS
            if not (short and covered[last] >= 0 and entities.get(last) == "PHONE_NUMBER"):
                return []
            end = last
        return self._chosen(end, taken, entities)

    def _width(self, group: int) -> int:
        return self.digits[group] - (self.digits[group - 1] if group else 0)

    def _chosen(self, end: int, taken: bytearray, entities: dict[int, str]) -> list[Found]:
        found: list[Found] = []
        k = end
        while k > 0:
            if taken[k]:
                first = k - taken[k]
                found.append((self.starts[first], self.ends[k - 1], entities[k]))
                k = first
            else:
                k -= 1
        found.reverse()
        return found


def _same_run(widths: list[int]) -> list[int]:
    """For each group, how many groups right before it have its width."""
    same = [0] * len(widths)
    for i in range(1, len(widths)):
        same[i] = same[i - 1] + 1 if widths[i] == widths[i - 1] else 0
    return same
