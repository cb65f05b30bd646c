"""A real OpenAI-compatible inference server for the self-hosted fallback: llama.cpp's,
as `llama-cpp-python[server]` serves it, loading a tiny model the tests write with the
`gguf` package.

Both live in their own virtualenv, `.venv-e2e`, which `make e2e` makes (building
llama.cpp from source), so their dependencies never move the sidecar's. Without it the
tests here are skipped, saying so: `make test` does not build llama.cpp (see the
README's "A real self-hosted fallback").
"""

from __future__ import annotations

import http.client
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
E2E_PYTHON = ROOT / ".venv-e2e" / "bin" / "python"
MODEL_ALIAS = "tiny-llama"


def llama_server_installed() -> bool:
    if not E2E_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(E2E_PYTHON), "-c", "import gguf, llama_cpp.server"], capture_output=True
    )
    return probe.returncode == 0


@dataclass(frozen=True)
class LlamaServer:
    port: int
    model: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/v1/models")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False
