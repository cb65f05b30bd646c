"""AWS event-stream frames, written from the format's spec (the AWS SDKs' "Event Stream
Encoding"), sharing no code with botocore's parser that the codec reads them with.

    prelude:  total length (uint32) | headers length (uint32) | CRC32 of those 8 bytes
    headers:  name length (uint8) | name | type (7 = string) | value length (uint16) | value
    payload
    message CRC32 of everything before it
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

_STRING = 7
# Bedrock pads each event's payload with a "p" field so that lengths do not reveal
# the tokens; a reader must ignore it.
_PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    encoded = _headers(headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, body: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return frame(headers, json.dumps(body | {"p": _PADDING[: 5 + len(event_type)]}).encode())


def exception(exception_type: str, message: str) -> bytes:
    headers = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return frame(headers, json.dumps({"message": message}).encode())


def corrupt(data: bytes) -> bytes:
    """The frame with one payload byte flipped: its message CRC no longer matches."""
    middle = len(data) - 5
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]
