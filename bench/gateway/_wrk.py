"""Load from wrk: a Lua script that POSTs the fixed body and prints its own summary as JSON.

wrk's text report rounds latencies to two decimals in mixed units; the `done()` hook
hands us exact microseconds and the error counters instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_MARKER = "WRK_RESULT "

_SCRIPT = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
{headers}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    p50_us: float
    p99_us: float
    max_us: float
    socket_errors: int
    http_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.socket_errors + self.http_errors


def lua_script(body: bytes, headers: Mapping[str, str]) -> str:
    text = body.decode()
    if "]==]" in text:
        raise ValueError("body must not contain the Lua long-string terminator")
    lines = "\n".join(
        f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in headers.items()
    )
    return _SCRIPT.format(body=text, headers=lines, marker=_MARKER)


def parse_output(stdout: str) -> LoadResult:
    for line in stdout.splitlines():
        if line.startswith(_MARKER):
            raw = json.loads(line[len(_MARKER) :])
            return LoadResult(
                requests=raw["requests"],
                duration_s=raw["duration_us"] / 1e6,
                p50_us=raw["p50_us"],
                p99_us=raw["p99_us"],
                max_us=raw["max_us"],
                socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
                # wrk counts a response as a status error when its status is 400 or above.
                http_errors=raw["status"],
            )
    raise ValueError(f"no wrk summary in output:\n{stdout[-2000:]}")


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    duration_s: float,
    timeout_s: float = 10.0,
) -> LoadResult:
    binary = shutil.which("wrk") or "/usr/bin/wrk"
    # One wrk thread: on two cores a second would take CPU away from the gateway.
    argv = [
        binary,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_output(done.stdout)
