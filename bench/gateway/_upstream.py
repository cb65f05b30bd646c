"""The canned OpenAI-compatible upstream: nginx with `return 200 '<fixed body>'`, for
Chat Completions and for the Responses API (a gateway that passes /v1/responses through
calls /responses; one that translates, as the sidecar does, calls /chat/completions).

nginx cannot look inside a JSON body to see `"stream": true`, so the two answers live
under two base paths and each scenario points its provider at the one it needs.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.gateway._payload import completion_json, completion_sse, response_json, response_sse
from bench.gateway._procs import Child, Supervisor, free_port, wait_listening

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


def nginx_config(work: Path, port: int) -> str:
    return _CONF.format(
        work=work,
        port=port,
        json_prefix=JSON_PREFIX,
        stream_prefix=STREAM_PREFIX,
        json_body=_quoted(completion_json()),
        sse_body=_quoted(completion_sse()),
        responses_json=_quoted(response_json()),
        responses_sse=_quoted(response_sse()),
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
