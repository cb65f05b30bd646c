"""Phone number validation whose cost does not grow with the number of regions.

phonenumbers validates a national number for one region per call (~20 µs), so asking
every configured region in turn is what makes regex-plus-phonenumbers recognizers
slow. Here the national-number patterns of all regions (taken from phonenumbers' own
metadata) are compiled into one alternation: a single fullmatch finds the region that
could own the digits, and phonenumbers confirms for that region only.

International numbers ("+44 20 ...") are decided without phonenumbers' parse: the
steps of `parse` and `is_valid_number` that matter for digits and separators are
replayed on the same metadata (see `InternationalNumbers`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeGuard

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    PhoneMetadata,
    PhoneNumberDesc,
)

from policy_engine.redaction._types import RedactionError

# The number types is_valid_number accepts; their union is the set of valid numbers.
_TYPE_DESCS = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)

_BARE_MOBILE_REGIONS = frozenset({"IN"})
# parse's bounds: longest input, shortest and longest national significant number.
_MAX_INPUT = 250
_MIN_NSN = 2
_MAX_NSN = 17
# What the fast path knows parse does with: ASCII digits and the separators of a digit
# run. parse keeps only the digits of these (no letters, so no vanity or extension).
_PLAIN_INTERNATIONAL = re.compile(r"\+[0-9 ().\-/]*")
_SEPARATORS = str.maketrans(dict.fromkeys("+ ().-/"))


class PhoneValidator:
    def __init__(self, regions: Sequence[str]) -> None:
        trunk: list[str] = []
        bare: list[str] = []
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                raise RedactionError(f"unknown phone region {region!r}")
            valid = _union(metadata, _TYPE_DESCS)
            prefix = metadata.national_prefix
            if prefix is None:
                # Spain, Italy: numbers are written the same nationally, "0" included.
                trunk.append(f"(?P<{region}_t>{valid})")
                bare.append(f"(?P<{region}_b>{valid})")
            elif prefix == "0":
                trunk.append(f"(?P<{region}_t>0(?:{valid}))")
                # Where mobiles are customarily written without the "0" (India), a bare
                # mobile counts; elsewhere a bare digit run is more often a timestamp
                # or a reference than a phone number missing its trunk prefix.
                mobile = _union(metadata, ("mobile",))
                if mobile and region in _BARE_MOBILE_REGIONS:
                    bare.append(f"(?P<{region}_b>{mobile})")
            else:
                # NANP: the trunk "1" is optional in writing.
                bare.append(f"(?P<{region}_b>{re.escape(prefix)}?(?:{valid}))")
        self._trunk = re.compile("|".join(trunk) or "(?!)")
        self._bare = re.compile("|".join(bare) or "(?!)")

    def is_national(self, candidate: str, digits: str) -> bool:
        pattern = self._trunk if digits[0] == "0" else self._bare
        match = pattern.fullmatch(digits)
        if match is None or match.lastgroup is None:
            return False
        return is_valid(candidate, match.lastgroup[:-2])


class _Region:
    """One region's metadata as region_code_for_number and is_valid_number read it."""

    def __init__(self, metadata: PhoneMetadata, calling_code: int, region: str) -> None:
        leading = metadata.leading_digits
        self.leading_digits = None if leading is None else re.compile(leading)
        # is_valid_number_for_region's own check; it holds for every region phonenumbers
        # ships, and is kept so that a region that broke it would be invalid here too.
        self.owned = (
            region == REGION_CODE_FOR_NON_GEO_ENTITY or metadata.country_code == calling_code
        )
        # `_number_type_helper` skips the mobile type where its pattern is the fixed-line
        # one, even when the mobile lengths differ.
        skip = "mobile" if metadata.same_mobile_and_fixed_line_pattern else ""
        descs = [
            d for name in _TYPE_DESCS if name != skip and _has_pattern(d := getattr(metadata, name))
        ]
        general = metadata.general_desc
        # `_number_type_helper` tries one type after the other, each only when the number
        # has one of the type's possible lengths: for each length, one alternation of the
        # types that allow it, behind a lookahead for the general pattern.
        self._by_length: dict[int, re.Pattern[str]] = {}
        if not _has_pattern(general):
            return
        for length in range(_MIN_NSN, _MAX_NSN + 1):
            if not _allows(general, length):
                continue
            union = "|".join(
                f"(?:{d.national_number_pattern})" for d in descs if _allows(d, length)
            )
            if union:
                # Lengths with the same types share one compiled pattern (re's cache).
                pattern = f"(?=(?:{general.national_number_pattern})$)(?:{union})"
                self._by_length[length] = re.compile(pattern)

    def has_type(self, nsn: str) -> bool:
        """`_number_type_helper(nsn, metadata) != UNKNOWN`."""
        pattern = self._by_length.get(len(nsn))
        return pattern is not None and pattern.fullmatch(nsn) is not None

    def valid(self, nsn: str) -> bool:
        """is_valid_number_for_region."""
        return self.owned and self.has_type(nsn)


def _has_pattern(desc: PhoneNumberDesc | None) -> TypeGuard[PhoneNumberDesc]:
    # An empty pattern matches nothing in phonenumbers (not everything, as in re).
    return desc is not None and bool(desc.national_number_pattern)


def _allows(desc: PhoneNumberDesc, length: int) -> bool:
    return not desc.possible_length or length in desc.possible_length


class _CallingCode:
    """What parse and is_valid_number read for one country calling code."""

    def __init__(self, calling_code: int) -> None:
        codes = COUNTRY_CODE_TO_REGION_CODE[calling_code]
        self._regions = tuple(
            _Region(metadata, calling_code, code)
            for code in codes
            if (metadata := PhoneMetadata.metadata_for_region_or_calling_code(calling_code, code))
            is not None
        )
        self._single = len(codes) == 1
        # parse strips the national prefix with the main region's metadata (the first).
        main = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, codes[0])
        # parse asserts the first and reads the second's lengths unchecked.
        assert main is not None and main.general_desc is not None
        prefix = main.national_prefix_for_parsing
        self._prefix = re.compile(prefix) if prefix else None
        self._transform = main.national_prefix_transform_rule
        pattern = main.general_desc.national_number_pattern
        self._general = re.compile(pattern) if pattern else None
        self._stripped_lengths = _stripped_lengths(main.general_desc)

    def valid(self, national: str) -> bool:
        """is_valid_number: the region that region_code_for_number picks has a type for it."""
        nsn = self._strip_national_prefix(national)
        if not _MIN_NSN <= len(nsn) <= _MAX_NSN:
            return False
        if self._single:
            return bool(self._regions) and self._regions[0].valid(nsn)
        # The first region whose leading digits start the number or, without leading
        # digits, that has a type for it (and so is valid, owned as it is by the code).
        for region in self._regions:
            if region.leading_digits is None:
                if region.has_type(nsn):
                    return region.owned
            elif region.leading_digits.match(nsn):
                return region.valid(nsn)
        return False

    def _strip_national_prefix(self, number: str) -> str:
        """parse's `_maybe_strip_national_prefix_carrier_code` and the length test after it."""
        if self._prefix is None:
            return number
        match = self._prefix.match(number)
        if match is None:
            return number
        viable = self._viable(number)
        groups = match.groups()
        if not self._transform or groups[len(groups) - 1] is None:
            stripped = number[match.end() :]
        else:
            stripped = self._prefix.sub(self._transform, number, count=1)
        if viable and not self._viable(stripped):
            return number
        return stripped if len(stripped) in self._stripped_lengths else number

    def _viable(self, number: str) -> bool:
        return self._general is not None and self._general.fullmatch(number) is not None


def _stripped_lengths(general: PhoneNumberDesc) -> frozenset[int]:
    """Lengths for which parse keeps the number with its national prefix stripped: those
    `_test_number_length` finds IS_POSSIBLE or TOO_LONG (written as it decides)."""
    lengths = general.possible_length
    local = general.possible_length_local_only

    def kept(length: int) -> bool:
        if length in local or length < lengths[0]:
            return False
        return length == lengths[0] or length > lengths[-1] or length in lengths[1:]

    return frozenset(filter(kept, range(_MAX_NSN + 1)))


class InternationalNumbers:
    """`is_valid(text, None)` for "+" and digits with separators, in ~1.5 µs instead of ~25.

    parse and is_valid_number spend most of their time on generic work (extension and
    RFC 3966 handling, Unicode normalisation, recompiling patterns, and for "+1" asking
    up to 25 regions twice); for this input the outcome depends only on the digits and
    the calling code's metadata, which is compiled once per calling code, when first met.
    Any other input is left to phonenumbers.
    """

    def __init__(self) -> None:
        # Static metadata only, never a number: compiling all ~1,200 patterns up front
        # would cost ~0.1 s per detector for calling codes most deployments never see.
        self._codes: dict[int, _CallingCode] = {}

    def is_valid(self, text: str) -> bool:
        if _PLAIN_INTERNATIONAL.fullmatch(text) is None:
            return is_valid(text, None)
        if len(text) > _MAX_INPUT:
            return False
        digits = text.translate(_SEPARATORS)
        # Fewer than three digits is not a viable number; no calling code starts with 0.
        if len(digits) < 3 or digits[0] == "0":
            return False
        for size in (1, 2, 3):
            calling_code = int(digits[:size])
            if calling_code in COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                return len(national) >= _MIN_NSN and self._calling_code(calling_code).valid(
                    national
                )
        return False

    def _calling_code(self, calling_code: int) -> _CallingCode:
        code = self._codes.get(calling_code)
        if code is None:
            code = self._codes[calling_code] = _CallingCode(calling_code)
        return code


def is_valid(text: str, region: str | None) -> bool:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


def _union(metadata: PhoneMetadata, names: Sequence[str]) -> str:
    patterns = []
    for name in names:
        desc = getattr(metadata, name)
        if desc is not None and desc.national_number_pattern:
            patterns.append(f"(?:{desc.national_number_pattern})")
    return "|".join(patterns)
