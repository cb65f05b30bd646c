"""Restoring placeholders in a streamed answer, one chunk at a time.

A placeholder can arrive split over chunks (`<EMAIL_AD` + `DRESS_1>`). Each channel
(the text, and each tool call's arguments) keeps back only a tail that is a prefix
of a placeholder actually issued, so everything else flows through at once and the
concatenated output equals restoring the unsplit answer.
"""

from __future__ import annotations

from collections.abc import Callable

from adapters._model import StreamEnd, StreamEvent, TextDelta, ToolCallDelta


class _Channel:
    def __init__(self, prefixes: frozenset[str], restore: Callable[[str], str]) -> None:
        self._prefixes = prefixes
        self._restore = restore
        self._held = ""

    def push(self, chunk: str) -> str:
        text = self._held + chunk
        cut = text.rfind("<")
        # Only the last "<" can open an unfinished placeholder: placeholders hold no
        # other "<", so any earlier one has been closed or never will be.
        if cut < 0 or text[cut:] not in self._prefixes:
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
        # Proper prefixes only: a whole placeholder is restored, never held.
        self._prefixes = frozenset(p[:i] for p in placeholders for i in range(1, len(p)))
        self._restore_text = restore_text
        self._restore_json_text = restore_json_text
        self._text = _Channel(self._prefixes, restore_text)
        self._tools: dict[int, _Channel] = {}

    def feed(self, event: StreamEvent) -> list[StreamEvent]:
        if isinstance(event, TextDelta):
            text = self._text.push(event.text)
            return [TextDelta(text)] if text else []
        if isinstance(event, ToolCallDelta):
            channel = self._tools.get(event.index)
            if channel is None:
                channel = self._tools[event.index] = _Channel(
                    self._prefixes, self._restore_json_text
                )
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
