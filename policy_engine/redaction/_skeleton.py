"""The text the detector reads: one ASCII character for each character of the original.

A value is found in this skeleton and its offsets are the original's, so what is
redacted is what was written. The skeleton folds what hides a value from ASCII patterns:
every Unicode decimal digit becomes its ASCII digit (fullwidth, Arabic-Indic,
mathematical), fullwidth forms their ASCII twins (U+FF20 "@", U+FF0E "."), the spaces people and
word processors put between digit groups a space (no-break, narrow no-break, thin,
zero-width, a tab), the dashes a hyphen (non-breaking hyphen, en dash, minus sign, soft
hyphen), and ideographic full stops the dot IDNA reads them as. Any other character
outside ASCII becomes one of three classes:

- LETTER (\\x01): a letter, mark or number of a script written with spaces between words;
- PUNCTUATION (\\x02): punctuation, a symbol, an unassigned code point;
- SCRIPT (\\x03): a letter of a script written without spaces (Han, kana, Hangul, Thai...),
  so a value glued to such text ("请发邮件到jane@example.com") starts where the script ends.

The table covers every code point and is built once per process from the interpreter's
own Unicode database; the native scan (native/scan) applies the same table.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from functools import cache

LETTER = "\x01"
PUNCTUATION = "\x02"
SCRIPT = "\x03"

_CODE_POINTS = 0x110000
# Digits, spaces and marks all lie below this bound or in plane 14 (tags, variation
# selectors); the planes in between hold letters of scripts written with spaces or
# nothing assigned, which LETTER covers.
_BMP_AND_SMP = 0x20000
_PLANE_14 = (0xE0000, 0xE1000)
_LINE_BREAKS = "\x85\u2028\u2029"
_SPACES = "\t\u200b\u2060\ufeff"
_DASHES = "\u00ad\u2010\u2011\u2012\u2013\u2212\ufe58\ufe63"
_FULL_STOPS = "\u3002\ufe52\uff61"
_AT_SIGNS = "\ufe6b"
_FULLWIDTH = (0xFF01, 0xFF5E)
_FULLWIDTH_OFFSET = 0xFEE0
# Scripts written without spaces between words (Unicode blocks).
_SCRIPT_BLOCKS = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi
    (0x3040, 0x31FF),  # Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # halfwidth Katakana and Hangul
    (0x20000, 0x3FFFF),  # CJK extensions B-I
)


@cache
def table() -> bytes:
    """For each code point, the ASCII byte the skeleton holds in its place."""
    cells = bytearray(LETTER.encode()) * _CODE_POINTS
    cells[:128] = bytes(range(128))
    cells[ord("\t")] = ord(" ")
    low = array("I", range(_BMP_AND_SMP)).tobytes().decode("utf-32-le", "surrogatepass")
    plane_14 = array("I", range(*_PLANE_14)).tobytes().decode("utf-32-le", "surrogatepass")
    category = unicodedata.category
    for chars, base in ((low, 0), (plane_14, _PLANE_14[0])):
        for match in re.finditer(r"[^\w\x00-\x7f]+", chars):
            for offset in range(match.start(), match.end()):
                if category(chars[offset])[0] != "M":
                    cells[base + offset] = ord(PUNCTUATION)
    for first, last in _SCRIPT_BLOCKS:
        block = slice(first, last + 1)
        cells[block] = cells[block].replace(LETTER.encode(), SCRIPT.encode())
    for match in re.finditer(r"\s", low):
        if match.start() >= 128:
            cells[match.start()] = ord(" ")
    for match in re.finditer(r"\d", low):
        if match.start() >= 128:
            cells[match.start()] = ord("0") + unicodedata.decimal(match.group())
    for code in range(_FULLWIDTH[0], _FULLWIDTH[1] + 1):
        cells[code] = code - _FULLWIDTH_OFFSET
    for chars, ascii_char in (
        (_LINE_BREAKS, "\n"),
        (_SPACES, " "),
        (_DASHES, "-"),
        (_FULL_STOPS, "."),
        (_AT_SIGNS, "@"),
    ):
        for char in chars:
            cells[ord(char)] = ord(ascii_char)
    return bytes(cells)


@cache
def _translation() -> str:
    # str.translate reads a str table by index: one character per code point.
    return table().decode("latin-1")


def skeleton(text: str) -> str:
    """`text` as the detector reads it: same length, ASCII only."""
    if text.isascii():
        return text.replace("\t", " ") if "\t" in text else text
    return text.translate(_translation())
