"""Phone number validation whose cost does not grow with the number of regions.

phonenumbers validates a national number for one region per call, so asking every
configured region in turn is what makes regex-plus-phonenumbers recognizers slow.
Here the national-number patterns of all regions (taken from phonenumbers' own
metadata) are compiled into one alternation: a single fullmatch finds the region that
could own the digits, and phonenumbers' verdict is taken for that region only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from phonenumbers import PhoneMetadata

from policy_engine.redaction._numbering import TYPE_DESCS, PhoneNumbers
from policy_engine.redaction._types import RedactionError

_BARE_MOBILE_REGIONS = frozenset({"IN"})


class PhoneValidator:
    def __init__(self, regions: Sequence[str]) -> None:
        trunk: list[str] = []
        bare: list[str] = []
        for region in regions:
            metadata = PhoneMetadata.metadata_for_region(region)
            if metadata is None:
                raise RedactionError(f"unknown phone region {region!r}")
            valid = _union(metadata, TYPE_DESCS)
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
        # Sources kept for the native detector, which compiles them too.
        self.trunk_pattern = "|".join(trunk) or "(?!)"
        self.bare_pattern = "|".join(bare) or "(?!)"
        self._trunk = re.compile(self.trunk_pattern)
        self._bare = re.compile(self.bare_pattern)
        self._numbers = PhoneNumbers()

    def is_national(self, candidate: str, digits: str) -> bool:
        pattern = self._trunk if digits[0] == "0" else self._bare
        match = pattern.fullmatch(digits)
        if match is None or match.lastgroup is None:
            return False
        return self._numbers.is_valid_national(candidate, match.lastgroup[:-2])

    def is_international(self, text: str) -> bool:
        return self._numbers.is_valid_international(text)


def _union(metadata: PhoneMetadata, names: Sequence[str]) -> str:
    patterns = []
    for name in names:
        desc = getattr(metadata, name)
        if desc is not None and desc.national_number_pattern:
            patterns.append(f"(?:{desc.national_number_pattern})")
    return "|".join(patterns)
