"""Processes the harness starts: launch, wait until listening, measure, and always stop.

Each child runs in its own session so that stopping it also stops anything it forked
(LiteLLM workers, nginx workers); the harness only ever signals groups it created.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class StartupError(RuntimeError):
    """A child exited or never listened; the message says where its log is."""


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Owns every child process; `close()` stops them all, newest first."""

    def __init__(self) -> None:
        self._children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        child = Child(name, popen, log)
        self._children.append(child)
        return child

    def stop(self, child: Child, grace_s: float = 5.0) -> None:
        if child in self._children:
            self._children.remove(child)
        _stop_group(child.popen, grace_s)

    def close(self) -> None:
        while self._children:
            self.stop(self._children[-1])


def _stop_group(popen: subprocess.Popen[bytes], grace_s: float) -> None:
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=grace_s)
    # Leftover group members (workers whose parent already exited) get no second chance.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        popen.wait(timeout=grace_s)


@contextlib.contextmanager
def supervised() -> Iterator[Supervisor]:
    """A supervisor whose children die with the harness, on error, Ctrl-C or SIGTERM."""
    supervisor = Supervisor()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, on_term)
    # A shell starts background jobs with SIGINT ignored; an interrupt must still clean up.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield supervisor
    finally:
        supervisor.close()
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)


def wait_listening(child: Child, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.popen.poll() is not None:
            raise StartupError(
                f"{child.name} exited ({child.popen.returncode}):\n{child.log_tail()}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise StartupError(
        f"{child.name} not listening on {port} after {timeout_s}s:\n{child.log_tail()}"
    )


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; everything after its ')' is fixed.
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it, from /proc's parent links."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(parents.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the tree under `pid`, including children it already reaped."""
    ticks = 0
    for index, member in enumerate(descendants(pid)):
        fields = _stat_fields(member)
        if fields is None:
            continue
        # After ')': state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14.
        ticks += int(fields[11]) + int(fields[12])
        if index == 0:
            ticks += int(fields[13]) + int(fields[14])
    return ticks / _CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    """Sum of VmHWM (peak resident set) over the tree under `pid`."""
    total_kb = 0
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return total_kb / 1024
