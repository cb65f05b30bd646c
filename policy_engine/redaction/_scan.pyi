"""The native detector (native/scan, built by `make setup`): see _native and _patterns."""

from collections.abc import Callable, Mapping, Sequence

from policy_engine.redaction._numbering import CallingCodeData, NationalData
from policy_engine.redaction._scanner import Candidate

class Detector:
    """The Python detector's patterns (its `re` sources, compiled by PCRE2), tables, bounds."""

    limit_error: type[Exception]
    def __init__(
        self,
        *,
        skeleton: bytes,
        pattern: str,
        gate: Sequence[str],
        step: str,
        glued: str,
        secret_families: Sequence[str],
        unbounded_gates: Sequence[str],
        named_gates: Sequence[str],
        bounds: tuple[int, int, int, int, int, int, int, int, int, int],
        number_patterns: Mapping[str, str],
        reaches: tuple[int, int],
        check_patterns: Mapping[str, str],
        nino_bad_prefixes: Sequence[str],
        embedded_types: Sequence[tuple[str, Sequence[tuple[int, ...]] | None]],
        covering_types: Sequence[tuple[str, Sequence[tuple[int, ...]] | None]],
        glued_types: Sequence[str],
        iban_structures: Sequence[tuple[str, str, int]],
        iban_asked: Sequence[str],
        iban_check: Callable[[str], bool],
        trunk_phones: str,
        bare_phones: str,
        calling_codes: Callable[[int], CallingCodeData],
        known_calling_codes: Sequence[int],
        national_regions: Callable[[str], NationalData],
        phone_parse: Callable[[str, str | None], bool],
    ) -> None: ...
    def detect(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, type) of every value in `text`."""
    def skeleton(self, text: str) -> str:
        """`text` as the detector reads it."""
    def scanner(self, text: str) -> Callable[[int], Candidate | None]:
        """For a skeleton: the next candidate at or after a position, or None."""
    def classify(self, candidate: str, preceding: str, mode: int) -> str | None:
        """The type of a sequence of digit groups read as `mode` (see _numbers)."""
    def phone(self, text: str, region: str | None = None) -> bool:
        """The replay of phonenumbers' parse and is_valid_number (see _numbering)."""
    def check(self, family: str, value: str) -> str | tuple[int, int] | None:
        """A family's check of a candidate value (see _validators)."""
