"""The canned OpenAI-compatible upstream: nginx with `return 200 '<fixed body>'`, for
Chat Completions, embeddings and the Responses API (a gateway that passes /v1/responses
through calls /responses; one that translates, as the sidecar does, calls
/chat/completions).

nginx cannot look inside a JSON body to see `"stream": true`, so the two answers live
under two base paths and each scenario points its provider at the one it needs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.gateway._payload import (
    completion_json,
    completion_sse,
    embedding_json,
    response_json,
    response_sse,
)
from bench.gateway._procs import Child, Supervisor, wait_listening
from tests.ports import free_port

JSON_PREFIX = "/json/v1"
STREAM_PREFIX = "/stream/v1"

_CONF = """\
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_buffer_size 64k;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location = {json_prefix}/chat/completions {{
            default_type application/json;
            return 200 '{json_body}';
        }}
        location = {stream_prefix}/chat/completions {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            return 200 '{sse_body}';
        }}
        location = {json_prefix}/responses {{
            default_type application/json;
            return 200 '{responses_json}';
        }}
        location = {stream_prefix}/responses {{
            default_type text/event-stream;
            add_header Cache-Control no-cache;
            return 200 '{responses_sse}';
        }}
        # Too long for one config token (4 KB at most): pieces in variables, joined.
        location = {json_prefix}/embeddings {{
            default_type application/json;
{embedding_pieces}
            return 200 '{embedding_joined}';
        }}
        location = {json_prefix}/models {{
            default_type application/json;
            return 200 '{{"object":"list","data":[{{"id":"gpt-4o-mini","object":"model"}}]}}';
        }}
    }}
}}
"""


def _quoted(body: bytes) -> str:
    text = body.decode()
    # Inside a single-quoted nginx string only ' and \ are special, and $ starts a variable.
    if "$" in text:
        raise ValueError("canned body must not contain '$' (nginx would expand it)")
    return text.replace("\\", "\\\\").replace("'", "\\'")


@dataclass(frozen=True)
class Upstream:
    port: int
    child: Child

    def base_url(self, *, stream: bool) -> str:
        return f"http://127.0.0.1:{self.port}{STREAM_PREFIX if stream else JSON_PREFIX}"


_PIECE = 3000  # characters of body in one `set`, well under the 4 KB a token may hold


def _pieces(body: bytes) -> tuple[str, str]:
    """`set $bodyN '...';` lines for a long body, and the `$body0$body1...` that joins them."""
    text = body.decode()
    chunks = [text[i : i + _PIECE] for i in range(0, len(text), _PIECE)]
    lines = [
        f"            set $body{n} '{_quoted(chunk.encode())}';" for n, chunk in enumerate(chunks)
    ]
    return "\n".join(lines), "".join(f"$body{n}" for n in range(len(chunks)))


def nginx_config(work: Path, port: int) -> str:
    pieces, joined = _pieces(embedding_json())
    return _CONF.format(
        work=work,
        port=port,
        json_prefix=JSON_PREFIX,
        stream_prefix=STREAM_PREFIX,
        json_body=_quoted(completion_json()),
        sse_body=_quoted(completion_sse()),
        responses_json=_quoted(response_json()),
        responses_sse=_quoted(response_sse()),
        embedding_pieces=pieces,
        embedding_joined=joined,
    )


def start_nginx(supervisor: Supervisor, work: Path) -> Upstream:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(nginx_config(work, port))
    child = supervisor.start(
        "nginx",
        [binary, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")],
        log=work / "nginx.out",
    )
    wait_listening(child, port, timeout_s=10)
    return Upstream(port, child)
