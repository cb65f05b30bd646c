"""The native detector (native/scan, Rust and PCRE2), built from this package's own sources.

The Python modules stay the reference: the native detector is handed their patterns
(PCRE2 compiles Python's `re` sources, see _grammar), the skeleton's table, the tables
the checks read (IBAN structures, phonenumbers' metadata as _numbering extracts it) and
the constants that bound the work, and replays the same steps without the interpreter.
tests/redaction/test_native.py holds the two equal, span for span, candidate for
candidate and check for check. Without the built module, or with
POLICY_ENGINE_PURE_PYTHON=1, the Python detector runs.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from typing import TYPE_CHECKING

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from stdnum import iban, numdb

from adapters._native import pure_python
from policy_engine.redaction import _numbers, _runs, _scanner, _validators
from policy_engine.redaction._grammar import GATE_LITERALS, PATTERN, SECRET_FAMILIES, STEP
from policy_engine.redaction._numbering import calling_code_data, is_valid, national_data
from policy_engine.redaction._phones import PhoneValidator
from policy_engine.redaction._skeleton import table

if TYPE_CHECKING:
    from policy_engine.redaction._scan import Detector as NativeDetector


def _native_class() -> type[NativeDetector] | None:
    if pure_python():
        return None
    try:
        from policy_engine.redaction._scan import Detector
    except ImportError:
        return None
    return Detector


_DETECTOR = _native_class()
# Whether detectors read texts natively: the module is built and not set aside.
NATIVE_SCAN = _DETECTOR is not None

# IBAN countries whose stdnum module checks more than the structure and the checksum: the
# native check replays Spain's, Norway's and Montenegro's, and asks stdnum for Belgium's
# (a bank registry lookup).
_IBAN_ASKED = ("BE",)


def native_detector(phone_regions: Sequence[str]) -> NativeDetector | None:
    """The native detector for these phone regions, or None where it is not built."""
    if _DETECTOR is None:
        return None
    phones = PhoneValidator(phone_regions)
    return _DETECTOR(
        skeleton=table(),
        pattern=PATTERN,
        gate=list(GATE_LITERALS),
        step=STEP,
        glued=_scanner.GLUED.pattern,
        secret_families=sorted(SECRET_FAMILIES),
        unbounded_gates=sorted(_scanner.UNBOUNDED),
        named_gates=sorted(_scanner.NAMED),
        bounds=(
            _scanner.MULTI_TOKEN_REACH,
            _scanner.SEPARATOR_REACH,
            _scanner.NAMED_REACH,
            _scanner.RUN_PIECE,
            _runs.MAX_DIGITS,
            _runs.MAX_GROUPS,
            _runs.CONTEXT,
            _runs.TRAILING_DIGITS,
            _scanner.TOKEN_REACH,
            _scanner.HEX_REACH,
        ),
        number_patterns=_numbers.PATTERNS,
        reaches=(_numbers.SSN_LABEL_REACH, _validators.VERSION_WORD_REACH),
        check_patterns=_validators.PATTERNS,
        nino_bad_prefixes=sorted(_validators.NINO_BAD_PREFIXES),
        embedded_types=_numbers.printed(_numbers.EMBEDDED),
        covering_types=_numbers.printed(_numbers.COVERING),
        glued_types=sorted(_numbers.GLUED_TYPES),
        iban_structures=_iban_structures(),
        iban_asked=_IBAN_ASKED,
        iban_check=iban.is_valid,
        trunk_phones=phones.trunk_pattern,
        bare_phones=phones.bare_pattern,
        calling_codes=calling_code_data,
        known_calling_codes=sorted(COUNTRY_CODE_TO_REGION_CODE),
        national_regions=national_data,
        phone_parse=is_valid,
    )


def _iban_structures() -> list[tuple[str, str, int]]:
    """Each IBAN country's BBAN as stdnum checks it: its registry's notation ("4!n4!n12!c")
    as a pattern, written as stdnum.iban writes it, and the length it fixes."""
    registry = numdb.get("iban")
    classes = {"n": "[0-9]", "a": "[A-Z]", "c": "[A-Za-z0-9]"}
    structures = []
    for first in string.ascii_uppercase:
        for second in string.ascii_uppercase:
            country = first + second
            found = registry.info(country + "00")[0][1]
            if found and "bban" in found:
                pattern = _NOTATION.sub(lambda m: f"{classes[m[2]]}{{{m[1]}}}", found["bban"])
                length = sum(int(size) for size, _ in _NOTATION.findall(found["bban"]))
                structures.append((country, f"^{pattern}$", length))
    return structures


_NOTATION = re.compile(r"([1-9][0-9]*)!([nac])")
