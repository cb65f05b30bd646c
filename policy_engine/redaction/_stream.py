"""Restoring placeholders in a streamed answer, one chunk at a time.

A placeholder can arrive split over chunks (`<EMAIL_AD` + `DRESS_1>`). Each channel
(the text, and each tool call's arguments) keeps back only a tail that is a prefix
of a placeholder actually issued, so everything else flows through at once and the
concatenated output equals restoring the unsplit answer.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable

from adapters._model import StreamEnd, StreamEvent, TextDelta, ToolCallDelta


class _Issued:
    """The placeholders issued, sorted, so a text is found to begin one by bisection
    (a set of every prefix would cost a string per character of each placeholder,
    and a hostile request can have a hundred thousand)."""

    def __init__(self, placeholders: frozenset[str]) -> None:
        self._sorted = sorted(placeholders)

    def starts(self, text: str) -> bool:
        """Whether `text` is the start of an issued placeholder, and not a whole one."""
        index = bisect_left(self._sorted, text)
        # A whole placeholder ends with ">" and so begins no other: `text` is whole
        # exactly when it is found itself.
        return (
            index < len(self._sorted)
            and self._sorted[index] != text
            and self._sorted[index].startswith(text)
        )


class _Channel:
    def __init__(self, issued: _Issued, restore: Callable[[str], str]) -> None:
        self._issued = issued
        self._restore = restore
        self._held = ""

    def push(self, chunk: str) -> str:
        text = self._held + chunk
        cut = text.rfind("<")
        # Only the last "<" can open an unfinished placeholder: placeholders hold no
        # other "<", so any earlier one has been closed or never will be.
        if cut < 0 or not self._issued.starts(text[cut:]):
            self._held = ""
            return self._restore(text)
        self._held = text[cut:]
        return self._restore(text[:cut])

    def flush(self) -> str:
        # What is held is not a whole placeholder, so it goes out as it came.
        held, self._held = self._held, ""
        return held


class StreamRestorer:
    def __init__(
        self,
        placeholders: frozenset[str],
        restore_text: Callable[[str], str],
        restore_json_text: Callable[[str], str],
    ) -> None:
        self._issued = _Issued(placeholders)
        self._restore_text = restore_text
        self._restore_json_text = restore_json_text
        self._text = _Channel(self._issued, restore_text)
        self._tools: dict[int, _Channel] = {}

    def feed(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, TextDelta):
            text = self._text.push(event.text)
            return [TextDelta(text)] if text else []
        if isinstance(event, ToolCallDelta):
            channel = self._tools.get(event.index)
            if channel is None:
                channel = self._tools[event.index] = _Channel(self._issued, self._restore_json_text)
            arguments = channel.push(event.arguments)
            if not arguments and event.id is None and event.name is None:
                return []
            # A tool's name comes whole, in the call's first delta; it may be a placeholder
            # when the request's tool names held a value.
            name = None if event.name is None else self._restore_text(event.name)
            return [ToolCallDelta(event.index, event.id, name, arguments)]
        if isinstance(event, StreamEnd):
            return [*self.flush(), event]
        return [event]

    def flush(self) -> list[StreamEvent]:
        """Release what was held back; `feed` does this itself before a StreamEnd."""
        events: list[StreamEvent] = []
        text = self._text.flush()
        if text:
            events.append(TextDelta(text))
        for index, channel in self._tools.items():
            arguments = channel.flush()
            if arguments:
                events.append(ToolCallDelta(index, None, None, arguments))
        return events
