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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.egress._servers import free_port, wait_for

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


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/v1/models")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    directory = tmp_path_factory.mktemp("llama")
    model = directory / "tiny.gguf"
    subprocess.run(
        [str(E2E_PYTHON), "-m", "tests.e2e._tiny_model", str(model)], cwd=ROOT, check=True
    )
    port = free_port()
    log = directory / "server.log"
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                str(E2E_PYTHON),
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--model_alias",
                MODEL_ALIAS,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "1024",
                "--n_threads",
                "1",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: _answers(port), "llama.cpp's server", process, log)
        yield LlamaServer(port, model)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
