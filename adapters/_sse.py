"""An incremental (push-style) Server-Sent Events decoder, per the WHATWG HTML spec.

Written by hand because the maintained Python SSE libraries (httpx-sse, sseclient,
aiohttp-sse-client) are pull-style: they wrap an httpx/requests/aiohttp response
iterator. Our codecs do no I/O, so they need bytes in, events out, from any split.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SSEDecoder:
    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # pieces of a line whose end has not arrived
        self._started = False
        # A chunk that ends in CR may be the first half of a CRLF pair.
        self._pending_cr = False
        self._data: list[str] = []
        self._event = ""
        self._last_id: str | None = None
        self._partial_chars = 0
        self._data_chars = 0
        self.bytes_fed = 0
        self.events_dispatched = 0

    @property
    def buffered(self) -> int:
        """Characters held of a line or an event not yet complete (a provider that never
        ends one makes this grow; the transport counts it against its memory budget)."""
        return self._partial_chars + self._data_chars

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self.bytes_fed += len(chunk)
        text = self._utf8.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._pending_cr and text:
            self._pending_cr = False
            text = text.removeprefix("\n")
        events: list[SSEEvent] = []
        if "\r" not in text:
            # LF-only text (what providers send): split in C rather than search per line.
            *lines, rest = text.split("\n")
            if lines and self._partial:
                lines[0] = "".join(self._partial) + lines[0]
                self._partial = []
                self._partial_chars = 0
            for line in lines:
                event = self._line(line)
                if event is not None:
                    events.append(event)
            if rest:
                self._partial.append(rest)
                self._partial_chars += len(rest)
            return events
        start = 0
        length = len(text)
        # Only the new text is scanned and an unfinished line is kept in pieces, so a
        # long line arriving in many chunks costs linear, not quadratic, time.
        cr = lf = -2  # next CR / LF at or after `start`; -1 none, -2 not searched yet
        while start < length:
            # Search again only past a consumed ending: a stream without CRs would
            # otherwise rescan the whole chunk for every line.
            if cr != -1 and cr < start:
                cr = text.find("\r", start)
            if lf != -1 and lf < start:
                lf = text.find("\n", start)
            if cr == -1 and lf == -1:
                break
            end = lf if cr == -1 or (lf != -1 and lf < cr) else cr
            line = text[start:end]
            if self._partial:
                line = "".join(self._partial) + line
                self._partial = []
                self._partial_chars = 0
            if text[end] == "\r":
                if end + 1 < length:
                    start = end + 2 if text[end + 1] == "\n" else end + 1
                else:
                    self._pending_cr = True
                    start = end + 1
            else:
                start = end + 1
            event = self._line(line)
            if event is not None:
                events.append(event)
        if start < length:
            self._partial.append(text[start:])
            self._partial_chars += length - start
        return events

    def close(self) -> list[SSEEvent]:
        """The stream ended: the spec discards an event without its blank line."""
        self._partial = []
        self._data = []
        self._partial_chars = self._data_chars = 0
        return []

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._data_chars += len(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        self._data_chars = 0
        self.events_dispatched += 1
        event = SSEEvent(
            data="\n".join(self._data), event=self._event or "message", id=self._last_id
        )
        self._data = []
        self._event = ""
        return event
