import shutil
import urllib.request
from pathlib import Path

import pytest

from bench.gateway._payload import (
    completion_json,
    completion_sse,
    embedding_body,
    embedding_json,
    request_body,
    response_json,
    response_sse,
)
from bench.gateway._procs import supervised
from bench.gateway._upstream import nginx_config, start_nginx


def _post(url: str, body: bytes | None = None) -> tuple[str, bytes]:
    data = request_body(stream=False) if body is None else body
    request = urllib.request.Request(url, data=data, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


def test_config_listens_on_loopback_only(tmp_path: Path) -> None:
    assert "listen 127.0.0.1:8123 " in nginx_config(tmp_path, 8123)


@pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/bin") is None, reason="no nginx")
def test_nginx_answers_both_base_paths_with_the_canned_bodies(tmp_path: Path) -> None:
    with supervised() as supervisor:
        upstream = start_nginx(supervisor, tmp_path)
        json_answer = _post(upstream.base_url(stream=False) + "/chat/completions")
        sse_answer = _post(upstream.base_url(stream=True) + "/chat/completions")
        embeddings = _post(upstream.base_url(stream=False) + "/embeddings", embedding_body())
    assert json_answer == ("application/json", completion_json())
    assert embeddings == ("application/json", embedding_json())
    assert sse_answer == ("text/event-stream", completion_sse())


@pytest.mark.skipif(shutil.which("nginx", path="/usr/sbin:/usr/bin") is None, reason="no nginx")
def test_nginx_answers_the_responses_api_for_gateways_that_pass_it_through(
    tmp_path: Path,
) -> None:
    with supervised() as supervisor:
        upstream = start_nginx(supervisor, tmp_path)
        json_answer = _post(upstream.base_url(stream=False) + "/responses")
        sse_answer = _post(upstream.base_url(stream=True) + "/responses")
    assert json_answer == ("application/json", response_json())
    assert sse_answer == ("text/event-stream", response_sse())
