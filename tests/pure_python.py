"""Code run in a child interpreter on the sources of the modules tools/native.py compiles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapters._native import PURE_PYTHON_ENV

ROOT = Path(__file__).resolve().parents[1]


def run_on_sources(code: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, PURE_PYTHON_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
