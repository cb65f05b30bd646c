"""Stage figures beside the end-to-end table: decision latency, redaction MB/s, audit records/s.

The decision and audit figures come from their own benches (their owners keep them);
redaction is measured here on the harness's own prompt, since `bench/redaction_bench.py`
measures accuracy on a corpus rather than throughput on one request.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from adapters import ChatRequest, Message, TextPart
from bench.gateway._payload import VARIED_WORD, prompt_text
from policy_engine._config import RedactionSettings
from policy_engine.redaction import STRUCTURED_TYPES, default_redactor

ROOT = Path(__file__).resolve().parents[2]


def _run_bench(script: str, args: list[str]) -> str:
    path = ROOT / "bench" / script
    if not path.exists():
        return f"(skipped: {path.relative_to(ROOT)} does not exist)"
    done = subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        return f"(failed: {done.stderr.strip()[-500:]})"
    return done.stdout.strip()


def decision_figures(seconds_per_case: float) -> str:
    return _run_bench("decision_bench.py", ["--seconds-per-case", str(seconds_per_case)])


def audit_figures(seconds: float) -> str:
    return _run_bench("audit_bench.py", ["--seconds", str(seconds)])


def redaction_figures(seconds: float, max_rounds: int = 200_000) -> str:
    """Structured-PII redaction of the benchmark prompt, one new session per request."""
    redactor = default_redactor()
    text = prompt_text()
    types = frozenset(STRUCTURED_TYPES)
    rounds = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline and rounds < max_rounds:
        redactor.session().redact_text(text, types)
        rounds += 1
    elapsed = time.perf_counter() - start
    size = len(text.encode())
    default_entries = RedactionSettings().detection_cache_entries
    without, cached = (_conversation_us(entries) for entries in (0, default_entries))
    return (
        f"redaction (structured types, default_redactor, {size}-byte prompt with 3 PII values): "
        f"{rounds * size / elapsed / 1e6:.2f} MB/s, {elapsed / rounds * 1e6:.0f} µs per prompt "
        f"({rounds} prompts)\n\n"
        f"a conversation re-sent every turn (10 turns of that prompt, each a new one, and a "
        f"250-byte answer, under a 1.8 KB system prompt): {without:.0f} µs of redaction per "
        f"request without the detection cache, {cached:.0f} µs with it"
    )


def _conversation_us(cache_entries: int, conversations: int = 40, turns: int = 10) -> float:
    """Mean redact_request time over the turns of conversations whose history is re-sent."""
    redactor = default_redactor(cache_entries=cache_entries)
    types = frozenset(STRUCTURED_TYPES)
    system = "You are a careful customer support assistant. " * 40
    answer = "Thank you, we are looking into order 88231 and will write back soon. " * 3
    requests = 0
    started = time.process_time()
    for conversation in range(conversations):
        history: list[Message] = []
        for turn in range(turns):
            # A new user message each turn (as wrk varies the benchmark's): only the
            # history repeats.
            prompt = prompt_text().replace(VARIED_WORD, f"{VARIED_WORD}{conversation}x{turn}")
            history.append(Message("user", [TextPart(prompt)]))
            request = ChatRequest(model="default", messages=list(history), system=[system])
            redactor.session().redact_request(request, types)
            requests += 1
            history.append(Message("assistant", [TextPart(answer)]))
    return (time.process_time() - started) / requests * 1e6
