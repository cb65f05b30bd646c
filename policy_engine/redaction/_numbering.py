"""phonenumbers' verdict on a written number, without its parse.

`phonenumbers.parse` plus `is_valid_number` costs ~25-30 µs a number: generic work
(extensions, RFC 3966, Unicode, vanity letters, patterns compiled on every call) and,
for "+1", up to 25 regions asked twice. For ASCII digits with the separators of a
digit run, the outcome depends only on the digits and the metadata, so the steps
that matter are replayed here on phonenumbers' own metadata, compiled once per
calling code or region when first met. Anything else is left to phonenumbers.
"""

from __future__ import annotations

import re
from typing import TypeGuard

import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    REGION_CODE_FOR_NON_GEO_ENTITY,
    PhoneMetadata,
    PhoneNumberDesc,
)

# The number types is_valid_number accepts; their union is the set of valid numbers.
TYPE_DESCS = (
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
# parse's bounds: longest input, shortest and longest national significant number.
_MAX_INPUT = 250
_MIN_NSN = 2
_MAX_NSN = 17
# What parse is replayed for: ASCII digits and the separators of a digit run, of which
# it keeps only the digits (no letters, so no vanity number or extension).
_PLAIN = re.compile(r"\+?[0-9 ().\-/]*")
_SEPARATORS = str.maketrans(dict.fromkeys("+ ().-/"))
# `_test_number_length`'s verdicts that make parse keep a national prefix stripped.
_POSSIBLE = "possible"
_TOO_LONG = "too long"


# phonenumbers' metadata as the replay reads it, in plain values, so that the native
# detector (native/scan) replays it from the very same data: a national prefix (prefix
# for parsing, transform rule, general pattern, possible lengths, local-only lengths), a
# region of a calling code (leading digits, owned, type pattern per number length), a
# calling code (its regions, whether it has one only, its main region's prefix), and a
# region national numbers are parsed for (international prefix, calling code, prefix).
PrefixData = tuple[str | None, str | None, str | None, tuple[int, ...], tuple[int, ...]]
RegionData = tuple[str | None, bool, tuple[tuple[int, str], ...]]
CallingCodeData = tuple[tuple[RegionData, ...], bool, PrefixData]
NationalData = tuple[str | None, int, PrefixData]


def is_valid(text: str, region: str | None) -> bool:
    """phonenumbers' own answer: the reference the replay must match."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(number))


class PhoneNumbers:
    """`is_valid` for digit runs ("+44 20 7946 0958", "(415) 555-0132") in ~2 µs, not ~25."""

    def __init__(self) -> None:
        # Static metadata only, never a number: compiling all ~1,200 patterns up front
        # would cost ~0.2 s per detector for calling codes most deployments never see.
        self._codes: dict[int, _CallingCode] = {}
        self._regions: dict[str, _NationalRegion] = {}

    def is_valid_international(self, text: str) -> bool:
        """`is_valid(text, None)`."""
        if not text.startswith("+") or _PLAIN.fullmatch(text) is None or len(text) > _MAX_INPUT:
            return is_valid(text, None)
        digits = text.translate(_SEPARATORS)
        # With fewer than three digits a "+" number is not a viable number.
        return len(digits) >= 3 and self._international(digits)

    def is_valid_national(self, text: str, region: str) -> bool:
        """`is_valid(text, region)` for one of phonenumbers' regions."""
        if text.startswith("+") or _PLAIN.fullmatch(text) is None or len(text) > _MAX_INPUT:
            return is_valid(text, region)
        digits = text.translate(_SEPARATORS)
        if len(digits) < 3:
            # Viable only as two bare digits, which parse has more rules for.
            return is_valid(text, region)
        return self._national(digits, self._region(region))

    def _international(self, digits: str) -> bool:
        """After a "+" or an international prefix: a calling code, then the number."""
        # No calling code starts with 0; parse gives up on an unknown one.
        if digits[0] == "0":
            return False
        for size in (1, 2, 3):
            calling_code = int(digits[:size])
            if calling_code in COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                code = self._calling_code(calling_code)
                return len(national) >= _MIN_NSN and code.valid(national, code.prefix)
        return False

    def _national(self, digits: str, region: _NationalRegion) -> bool:
        """parse's `_maybe_extract_country_code` with the region's metadata, then as above."""
        if region.idd is not None and (idd := region.idd.match(digits)) is not None:
            after = digits[idd.end() :]
            # An international prefix followed by 0 is not taken for one.
            if not after.startswith("0"):
                return len(after) > 2 and self._international(after)
        code = self._calling_code(region.calling_code)
        if digits.startswith(region.calling_code_digits):
            # Written with the region's own calling code but no "+" ("1 415 555 0132"):
            # taken as such when that makes the number fit, or it is too long without.
            rest = region.prefix.strip(digits[len(region.calling_code_digits) :])
            if (
                not region.prefix.viable(digits) and region.prefix.viable(rest)
            ) or region.prefix.length(digits) == _TOO_LONG:
                # parse then strips with the calling code's main region.
                return len(rest) >= _MIN_NSN and code.valid(rest, code.prefix)
        return code.valid(digits, region.prefix)

    def _calling_code(self, calling_code: int) -> _CallingCode:
        code = self._codes.get(calling_code)
        if code is None:
            code = self._codes[calling_code] = _CallingCode(calling_code_data(calling_code))
        return code

    def _region(self, region: str) -> _NationalRegion:
        national = self._regions.get(region)
        if national is None:
            national = self._regions[region] = _NationalRegion(national_data(region))
        return national


class _NationalPrefix:
    """A region's national prefix as parse strips it."""

    def __init__(self, data: PrefixData) -> None:
        prefix, self._transform, general, self._lengths, self._local_lengths = data
        self._prefix = re.compile(prefix) if prefix else None
        self._general = re.compile(general) if general else None

    def strip(self, number: str) -> str:
        """`_maybe_strip_national_prefix_carrier_code`'s number."""
        if self._prefix is None or not number:
            return number
        match = self._prefix.match(number)
        if match is None:
            return number
        viable = self.viable(number)
        groups = match.groups()
        if not self._transform or groups[len(groups) - 1] is None:
            stripped = number[match.end() :]
        else:
            stripped = self._prefix.sub(self._transform, number, count=1)
        return number if viable and not self.viable(stripped) else stripped

    def strip_kept(self, number: str) -> str:
        """The number parse goes on with: stripped unless too short for the region."""
        stripped = self.strip(number)
        return stripped if self.length(stripped) in (_POSSIBLE, _TOO_LONG) else number

    def viable(self, number: str) -> bool:
        """`_match_national_number(number, general_desc, False)`."""
        return self._general is not None and self._general.fullmatch(number) is not None

    def length(self, number: str) -> str:
        """`_test_number_length(number, metadata)`, written as it decides."""
        length = len(number)
        if length in self._local_lengths:
            return "local only"
        if length == self._lengths[0]:
            return _POSSIBLE
        if length < self._lengths[0]:
            return "too short"
        if length > self._lengths[-1]:
            return _TOO_LONG
        return _POSSIBLE if length in self._lengths[1:] else "invalid length"


class _NationalRegion:
    """What parse reads of the region a national number is parsed for."""

    def __init__(self, data: NationalData) -> None:
        idd, self.calling_code, prefix = data
        self.idd = None if idd is None else re.compile(idd)
        self.calling_code_digits = str(self.calling_code)
        self.prefix = _NationalPrefix(prefix)


class _Region:
    """One region's metadata as region_code_for_number and is_valid_number read it."""

    def __init__(self, data: RegionData) -> None:
        leading, self.owned, by_length = data
        self.leading_digits = None if leading is None else re.compile(leading)
        # Lengths with the same types share one compiled pattern (re's cache).
        self._by_length = {length: re.compile(pattern) for length, pattern in by_length}

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

    def __init__(self, data: CallingCodeData) -> None:
        regions, self._single, prefix = data
        self._regions = tuple(_Region(region) for region in regions)
        self.prefix = _NationalPrefix(prefix)

    def valid(self, national: str, prefix: _NationalPrefix) -> bool:
        """is_valid_number of the number parse makes of `national` with `prefix`: the
        region that region_code_for_number picks has a type for it."""
        nsn = prefix.strip_kept(national)
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


def prefix_data(metadata: PhoneMetadata) -> PrefixData:
    general = metadata.general_desc
    # parse reads the general description's lengths unchecked.
    assert general is not None
    return (
        metadata.national_prefix_for_parsing or None,
        metadata.national_prefix_transform_rule,
        general.national_number_pattern or None,
        tuple(general.possible_length),
        tuple(general.possible_length_local_only),
    )


def national_data(region: str) -> NationalData:
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None and metadata.country_code is not None
    return metadata.international_prefix, metadata.country_code, prefix_data(metadata)


def calling_code_data(calling_code: int) -> CallingCodeData:
    codes = COUNTRY_CODE_TO_REGION_CODE[calling_code]
    regions = tuple(
        _region_data(metadata, calling_code, code)
        for code in codes
        if (metadata := PhoneMetadata.metadata_for_region_or_calling_code(calling_code, code))
        is not None
    )
    main = PhoneMetadata.metadata_for_region_or_calling_code(calling_code, codes[0])
    assert main is not None  # as parse asserts: the calling code is a known one
    # parse strips an international number's national prefix with the metadata of the
    # calling code's main region (the first).
    return regions, len(codes) == 1, prefix_data(main)


def _region_data(metadata: PhoneMetadata, calling_code: int, region: str) -> RegionData:
    # is_valid_number_for_region's own check; it holds for every region phonenumbers
    # ships, and is kept so that a region that broke it would be invalid here too.
    owned = region == REGION_CODE_FOR_NON_GEO_ENTITY or metadata.country_code == calling_code
    # `_number_type_helper` skips the mobile type where its pattern is the fixed-line one,
    # even when the mobile lengths differ.
    skip = "mobile" if metadata.same_mobile_and_fixed_line_pattern else ""
    descs = [
        d for name in TYPE_DESCS if name != skip and _has_pattern(d := getattr(metadata, name))
    ]
    general = metadata.general_desc
    # `_number_type_helper` tries one type after the other, each only when the number has
    # one of the type's possible lengths: for each length, one alternation of the types
    # that allow it, behind a lookahead for the general pattern.
    by_length: list[tuple[int, str]] = []
    if _has_pattern(general):
        for length in range(_MIN_NSN, _MAX_NSN + 1):
            if not _allows(general, length):
                continue
            union = "|".join(
                f"(?:{d.national_number_pattern})" for d in descs if _allows(d, length)
            )
            if union:
                pattern = f"(?=(?:{general.national_number_pattern})$)(?:{union})"
                by_length.append((length, pattern))
    return metadata.leading_digits, owned, tuple(by_length)
