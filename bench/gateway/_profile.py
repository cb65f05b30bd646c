"""Where the sidecar's CPU goes under load: py-spy samples, folded into self and total shares."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LINE_NUMBER = re.compile(r":\d+\)$")
_FILE = re.compile(r"\(([^()]*)\)$")
_OURS = ("policy_engine/", "adapters/")


@dataclass(frozen=True)
class Hotspots:
    samples: int
    self_share: list[tuple[str, float]]
    total_share: list[tuple[str, float]]  # our own functions only: the wrappers above are noise
    component_share: list[tuple[str, float]]


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def record(pid: int, duration_s: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling `pid` for `duration_s` into a folded-stacks file; the caller waits."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy not found: .venv/bin/pip install py-spy")
    argv = [binary, "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s)))]
    # --gil keeps only the thread holding the GIL, i.e. the work that competes with the event
    # loop; threads parked on a queue, a sleep or an fsync would otherwise swamp the profile.
    # --nonblocking samples without pausing the sidecar, so the load is not slowed down.
    argv += ["--rate", "200", "--gil", "--nonblocking", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frame(raw: str) -> str:
    # "handle (policy_engine/api/_app.py:88)" -> "handle (policy_engine/api/_app.py)", so a
    # function's samples add up across its lines.
    return _LINE_NUMBER.sub(")", raw.strip())


def _path(frame: str) -> str:
    match = _FILE.search(frame)
    return match.group(1) if match else ""


def component(frame: str) -> str:
    """policy_engine/redaction/_x.py -> policy_engine/redaction; aiohttp/client.py -> aiohttp."""
    path = _path(frame)
    parts = path.split("/")
    if path.startswith(_OURS) and len(parts) > 2:
        return "/".join(parts[:2])
    if len(parts) > 1:
        return parts[0]
    return path or "?"


def fold(text: str, top: int = 15) -> Hotspots:
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    component_counts: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        # py-spy puts the thread name first; it is not a function.
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        self_counts[frames[-1]] += count
        component_counts[component(frames[-1])] += count
        for name in set(frames):
            if _path(name).startswith(_OURS):
                total_counts[name] += count
    if not samples:
        return Hotspots(0, [], [], [])

    def shares(counts: Counter[str]) -> list[tuple[str, float]]:
        return [(name, 100 * n / samples) for name, n in counts.most_common(top)]

    return Hotspots(samples, shares(self_counts), shares(total_counts), shares(component_counts))


def render(spots: Hotspots) -> str:
    lines = [f"{spots.samples} samples of the thread holding the GIL", ""]
    lines += ["| self % | function |", "|---:|---|"]
    lines += [f"| {share:.1f} | `{name}` |" for name, share in spots.self_share]
    lines += ["", "| self % | package or stage |", "|---:|---|"]
    lines += [f"| {share:.1f} | `{name}` |" for name, share in spots.component_share]
    lines += ["", "| total % | our function (with callees) |", "|---:|---|"]
    lines += [f"| {share:.1f} | `{name}` |" for name, share in spots.total_share]
    return "\n".join(lines)
