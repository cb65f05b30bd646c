"""llama.cpp's server, started once for the session (see `_llama`)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e._llama import E2E_PYTHON, MODEL_ALIAS, ROOT, LlamaServer, answers
from tests.egress._servers import wait_for
from tests.ports import free_port


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
        wait_for(lambda: answers(port), "llama.cpp's server", process, log)
        yield LlamaServer(port, model)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
