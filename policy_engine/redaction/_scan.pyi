"""The native candidate scan (native/scan, built by `make setup`): see _patterns._Scanner."""

from collections.abc import Callable

from policy_engine.redaction._patterns import Candidate

class Patterns:
    """The scanner's patterns (Python `re` sources, compiled by PCRE2) and bounds."""

    limit_error: type[Exception]
    def __init__(
        self,
        *,
        pattern: str,
        gate: str,
        run_goes_on: str,
        run_rest: str,
        glued: str,
        multi_token_reach: int,
        separator_reach: int,
        whole_run_chars: int,
    ) -> None: ...
    def scanner(self, text: str) -> Callable[[int], Candidate | None]:
        """For an ASCII `text`: the next candidate at or after a position, or None."""
