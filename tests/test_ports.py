"""The test servers' ports: free when chosen, and outside the range the kernel draws
outgoing connections' source ports from, so no connection can take one before its
server binds it."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.ports import free_port, free_port_run, port_is_free


def ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_a_free_port_lies_below_the_ephemeral_range_and_can_be_bound() -> None:
    for _ in range(20):
        port = free_port()
        assert port < ephemeral_low()
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_run_of_ports_is_free_from_end_to_end() -> None:
    first = free_port_run(11)
    assert first + 11 <= ephemeral_low()
    assert all(port_is_free(port) for port in range(first, first + 11))


def test_a_port_a_listener_holds_is_not_free() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", free_port()))
        held.listen()
        assert not port_is_free(held.getsockname()[1])
