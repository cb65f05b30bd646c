"""Exit codes and output shared by the auditor's commands."""

from __future__ import annotations

import sys
from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1  # the log, proof or checkpoint is not intact
EXIT_USAGE = 2  # bad input: unreadable key, missing file, invalid option


def fail(message: str, code: int) -> int:
    print(message, file=sys.stderr)
    return code


def write_out(lines: Iterable[str]) -> int:
    for line in lines:
        print(line)
    return EXIT_OK
