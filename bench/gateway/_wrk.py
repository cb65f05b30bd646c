"""Load from wrk: a Lua script that POSTs the body and prints its own summary as JSON.

wrk's text report rounds latencies to two decimals in mixed units; the `done()` hook
hands us exact microseconds and the error counters instead.

One word of the body can be made different in every request (`vary`): a gateway that
remembers work per text (the sidecar's detection cache) must not be measured serving one
repeated prompt from memory. The word becomes eight letters from a counter that starts
at a random point in each wrk process, so no two requests of a run, nor of the warm-up
and the run after it, carry the same text, and the detectors see no new digit or symbol.
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
{vary}
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


_VARY = """\
local head, tail = [==[{head}]==], [==[{tail}]==]
local urandom = io.open("/dev/urandom", "rb")
local b1, b2, b3, b4 = urandom:read(4):byte(1, 4)
urandom:close()
local count = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
function request()
  count = count + 1
  local k, letters = count, {{}}
  for i = 1, 8 do
    letters[i] = string.char(97 + k % 26)
    k = math.floor(k / 26)
  end
  letters[1] = string.upper(letters[1])
  return wrk.format(nil, nil, nil, head .. table.concat(letters) .. tail)
end
"""


def lua_script(body: bytes, headers: Mapping[str, str], vary: str | None = None) -> str:
    """The wrk script; `vary`, a word found once in the body, is replaced per request."""
    text = body.decode()
    if "]==]" in text:
        raise ValueError("body must not contain the Lua long-string terminator")
    lines = "\n".join(
        f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}" for name, value in headers.items()
    )
    varying = ""
    if vary is not None:
        if text.count(vary) != 1:
            raise ValueError(f"the word to vary must occur once in the body: {vary!r}")
        head, _, tail = text.partition(vary)
        varying = _VARY.format(head=head, tail=tail)
    return _SCRIPT.format(body=text, headers=lines, vary=varying, marker=_MARKER)


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
