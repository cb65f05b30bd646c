"""Free loopback ports for the servers the tests start, chosen where nothing else draws.

A port from binding port 0 lies in the kernel's ephemeral range, which every outgoing
connection on the machine also takes its source port from: between the probe and the
server's own bind, any connection (the suite's clients, a sidecar calling its fakes)
can take it, and the server then fails to start. These ports come from below that
range, where only a listener can take a port, and the probe sees listeners.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 10_000


def _below_ephemeral() -> int:
    """The first port of the kernel's ephemeral range (32768 when it cannot be read)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


_CHOICES = range(_LOWEST, max(_below_ephemeral(), _LOWEST + 1_000))


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port_run(length: int) -> int:
    """The first of `length` consecutive loopback ports that are free now."""
    for _ in range(1_000):
        first = random.choice(_CHOICES)
        if first + length <= _CHOICES.stop and all(
            port_is_free(port) for port in range(first, first + length)
        ):
            return first
    raise RuntimeError(f"no {length} consecutive free ports below the ephemeral range")


def free_port() -> int:
    """A loopback port that is free now."""
    return free_port_run(1)
