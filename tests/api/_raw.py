"""A raw HTTP/1.1 client for the API tests: sends header lines exactly as written.

Client libraries merge or refuse repeated and malformed headers, so a test of what the
server does with them must write the bytes itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-cased names; repeats joined with ", "
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def exchange(
    port: int,
    header_lines: list[bytes],
    body: bytes = b"",
    *,
    method: bytes = b"POST",
    path: bytes = b"/v1/chat/completions",
) -> RawAnswer:
    """One request on its own connection, `header_lines` as given (Host, Content-Length
    and Connection: close are added); the whole answer, read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", *header_lines]
        head += [b"Content-Length: %d" % len(body), b"Connection: close"]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
        await writer.wait_closed()
    return parse_answer(raw)


def parse_answer(raw: bytes) -> RawAnswer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = _unchunked(body)
    return RawAnswer(status, headers, body)


def _unchunked(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    return bytes(out)
