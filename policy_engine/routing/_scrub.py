"""Provider keys out of provider text before it reaches a client.

A provider's error text is shown to the client (whose request it is about), and some
providers echo the request back, headers included. The text is scrubbed before it is
cut to length, and a key is found in the forms an echo takes: as is, in any letter
case, with white space inside it (wrapped or spaced out), JSON-escaped (`\\/`,
`\\u00xx`, escaped again), URL-encoded, as HTML character references, in hex, in base64
(any alignment, standard or URL alphabet), as a run of at least `_MIN_FRAGMENT` of its
characters anywhere, and as a prefix of it where the text ends (cut by the provider, or
by us).
"""

from __future__ import annotations

import base64
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass

REDACTED = "[redacted]"
_MIN_FRAGMENT = 8  # shorter runs of a key's characters say too little about it
_MIN_TAIL = 4  # a key's prefix ending a text that we did not cut ourselves
# The longest form one character of a key takes above (`\\u0073` escaped twice, `&#115;`):
# scrubbing reads `limit` characters and this much more per key character, so a key
# that starts before the cut is read whole (or, spaced out past that, is cut and its
# prefix removed).
_WIDEST_CHAR = 16

# The escapes above, and white space; every other character stands for itself.
_SPECIAL = re.compile(
    r"\\+u(?P<json>[0-9a-fA-F]{4})"  # \u0073, escaped any number of times
    r"|\\+(?P<escaped>[/\\\"])"  # \/ \\ \"
    r"|(?P<space>\s+|\\+[nrt])"  # white space, or an escaped line break or tab
    r"|%(?P<url>[0-9a-fA-F]{2})"
    r"|&#[xX](?P<html_hex>[0-9a-fA-F]{1,6});"
    r"|&#(?P<html>[0-9]{1,7});"
)
# What a cut can leave of an escape at the end of a text.
_CUT_ESCAPE = re.compile(r"(?:\\+(?:u[0-9a-fA-F]{0,3})?|%[0-9a-fA-F]?|&#[xX]?[0-9a-fA-F]*)\Z")


@dataclass(frozen=True, slots=True)
class _Decoded:
    text: str  # escapes decoded, white space dropped
    starts: list[int]  # where each of its characters begins in the original text
    ends: list[int]


def _char(token: re.Match[str]) -> str:
    kind = token.lastgroup
    value = token.group(kind) if kind is not None else ""
    if kind == "space":
        return ""
    if kind == "escaped":
        return value
    code = int(value) if kind == "html" else int(value, 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def _plain(text: str) -> str:
    """What `text` says with escapes decoded and white space dropped, without keeping
    where each character came from: enough to tell whether a key is there at all."""
    squeezed = "".join(text.split())
    if "\\" in squeezed or "%" in squeezed or "&#" in squeezed:
        return _SPECIAL.sub(_char, squeezed)
    return squeezed


def _decode(text: str) -> _Decoded:
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    last = 0
    for token in _SPECIAL.finditer(text):
        start = token.start()
        if start > last:  # plain characters, each itself
            pieces.append(text[last:start])
            starts.extend(range(last, start))
            ends.extend(range(last + 1, start + 1))
        last = token.end()
        kind = token.lastgroup
        if kind == "space":
            continue
        pieces.append(_char(token))
        starts.append(start)
        ends.append(last)
    if last < len(text):
        pieces.append(text[last:])
        starts.extend(range(last, len(text)))
        ends.extend(range(last + 1, len(text) + 1))
    return _Decoded("".join(pieces), starts, ends)


def _base64_forms(key: str) -> list[str]:
    """The base64 characters that depend on the key alone, at each of the three
    alignments it can have in a longer encoded text, in both alphabets."""
    raw = key.encode()
    forms = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw + b"\0\0\0").decode()
        first = -(-offset * 8 // 6)
        last = (offset + len(raw)) * 8 // 6
        form = encoded[first:last]
        if len(form) >= _MIN_FRAGMENT:
            forms += [form, form.translate(str.maketrans("+/", "-_"))]
    return forms


class KeyScrubber:
    def __init__(self, keys: Iterable[str]) -> None:
        normal = {"".join(key.split()) for key in keys}
        self._keys = sorted((k for k in normal if k), key=len, reverse=True)
        # Keys and their hex are matched whatever the case of their letters (an echo may
        # change it, and the rest still says most of the key); base64 only exactly.
        self._folded = sorted(
            {_fold(form) for k in self._keys for form in (k, k.encode().hex())},
            key=len,
            reverse=True,
        )
        self._exact = [form for k in self._keys for form in _base64_forms(k)]
        self._grams = sorted(
            {_fold(k[i : i + _MIN_FRAGMENT]) for k in self._keys for i in range(len(k) - 7)}
        )
        self._fragment = (
            re.compile("|".join(re.escape(g) for g in self._grams)) if self._grams else None
        )
        self._widest = _WIDEST_CHAR * max((len(k) for k in self._keys), default=0)

    def scrub(self, text: str, limit: int) -> str:
        """`text` without any trace of a key, cut to `limit` characters."""
        if not self._keys:
            return text[:limit]
        text = text[: limit + self._widest]
        plain = _plain(text)
        folded = _fold(plain)
        if (
            any(form in folded for form in self._folded)
            or any(form in plain for form in self._exact)
            or any(gram in folded for gram in self._grams)
        ):
            text = _replaced(text, self._spans(_decode(text)))
        if len(text) <= limit:
            return self._without_tail(text, _MIN_TAIL)
        return self._without_tail(_CUT_ESCAPE.sub("", text[:limit]), 1)

    def _spans(self, decoded: _Decoded) -> list[tuple[int, int]]:
        """Where keys lie in the original text, as (start, end) offsets."""
        found: list[tuple[int, int]] = []  # in decoded characters
        folded = _fold(decoded.text)
        for form, text in [(f, folded) for f in self._folded] + [
            (f, decoded.text) for f in self._exact
        ]:
            at = text.find(form)
            while at != -1:
                found.append((at, at + len(form)))
                at = text.find(form, at + len(form))
        if self._fragment is not None:
            at = 0
            while (match := self._fragment.search(folded, at)) is not None:
                end = match.end()
                while end < len(folded) and any(
                    folded[match.start() : end + 1] in k for k in self._folded
                ):
                    end += 1
                found.append((match.start(), end))
                at = end
        return [(decoded.starts[a], decoded.ends[b - 1]) for a, b in found]

    def _without_tail(self, text: str, shortest: int) -> str:
        """`text` without a key's prefix (of `shortest` characters or more) at its end."""
        tail = text[-self._widest :]
        if not self._tail_size(_plain(tail), shortest):
            return text
        decoded = _decode(tail)
        longest = self._tail_size(decoded.text, shortest)
        return text[: len(text) - len(tail) + decoded.starts[len(decoded.text) - longest]]

    def _tail_size(self, ending: str, shortest: int) -> int:
        """The longest prefix of a key's form (`shortest` or more) that ends `ending`."""
        folded = _fold(ending)
        return max(
            _prefix_at_end(folded, self._folded, shortest),
            _prefix_at_end(ending, self._exact, shortest),
        )


def _fold(text: str) -> str:
    """ASCII letters in lower case (the length stays, so offsets do too)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _prefix_at_end(ending: str, forms: list[str], shortest: int) -> int:
    longest = 0
    for form in forms:
        # Where the form's first character occurs near the end, and the rest of the
        # text from there begins the form.
        at = ending.find(form[0], max(0, len(ending) - len(form)))
        while at != -1:
            size = len(ending) - at
            if size > longest and size >= shortest and form.startswith(ending[at:]):
                longest = size
                break
            at = ending.find(form[0], at + 1)
    return longest


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    pieces = []
    last = 0
    for start, end in sorted(spans):
        if end <= last:
            continue
        pieces.append(text[last : max(start, last)])
        pieces.append(REDACTED)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)
