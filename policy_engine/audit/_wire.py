"""Frames between the sidecar and its audit writer process: a 4-byte length, then JSON.

Sidecar to writer: the settings once, then arrays of `[id, kind, event]`. Writer to sidecar:
objects with any of `ready`, `error`, `done` (`[id, outcome]` pairs), `log`, and the
log's `size` and `healthy` state after the frame's work.
"""

from __future__ import annotations

import struct

_LENGTH = struct.Struct("<I")
HEADER_SIZE = _LENGTH.size
# Far above any batch (4096 records of a few KB); a larger length means a broken stream.
MAX_FRAME = 256 * 1024 * 1024


class FrameError(Exception):
    """The byte stream does not hold frames (a writer or sidecar bug, not bad input)."""


def frame(payload: bytes) -> bytes:
    return _LENGTH.pack(len(payload)) + payload


class FrameBuffer:
    """Collects received bytes and hands out the complete frames' payloads."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._data += data
        payloads: list[bytes] = []
        start = 0
        while len(self._data) - start >= HEADER_SIZE:
            (length,) = _LENGTH.unpack_from(self._data, start)
            if length > MAX_FRAME:
                raise FrameError(f"frame of {length} bytes")
            end = start + HEADER_SIZE + length
            if end > len(self._data):
                break
            payloads.append(bytes(self._data[start + HEADER_SIZE : end]))
            start = end
        del self._data[:start]
        return payloads

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame still waiting for the rest."""
        return len(self._data)
