import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.gateway._procs import (
    StartupError,
    cpu_seconds,
    peak_rss_mb,
    supervised,
    wait_listening,
)
from tests.ports import free_port

_BURN = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.2: pass"
_FORK_AND_REPORT = (
    "import subprocess, sys\n"
    "p = subprocess.Popen(['sleep', '60'])\n"
    "print(p.pid, flush=True)\n"
    "p.wait()"
)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie waits for init to reap it; it runs nothing


def _gone(pid: int, within_s: float = 5) -> bool:
    # A signal is delivered asynchronously: give the kernel a bounded moment to act on it.
    deadline = time.monotonic() + within_s
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not _running(pid)


def test_cpu_seconds_counts_the_process_itself() -> None:
    before = cpu_seconds(os.getpid())
    exec(_BURN)
    assert cpu_seconds(os.getpid()) - before >= 0.15


def test_cpu_seconds_counts_children_already_reaped() -> None:
    before = cpu_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", _BURN], check=True)
    assert cpu_seconds(os.getpid()) - before >= 0.15


def test_peak_rss_is_at_least_the_current_rss() -> None:
    status = Path("/proc/self/status").read_text()
    current_kb = int(
        next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]
    )
    assert peak_rss_mb(os.getpid()) >= current_kb / 1024


def test_closing_the_supervisor_stops_grandchildren_too(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    with supervised() as supervisor:
        child = supervisor.start("forker", [sys.executable, "-c", _FORK_AND_REPORT], log=log)
        deadline = time.monotonic() + 10
        while not log.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.01)
        grandchild = int(log.read_text())
    assert child.popen.poll() is not None
    assert _gone(grandchild)


def test_a_child_that_exits_before_listening_is_a_startup_error(tmp_path: Path) -> None:
    with supervised() as supervisor:
        child = supervisor.start(
            "quitter", [sys.executable, "-c", "print('bad config')"], log=tmp_path / "q.log"
        )
        with pytest.raises(StartupError, match="bad config"):
            wait_listening(child, free_port(), timeout_s=10)
