import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from bench.gateway._payload import VARIED_WORD, request_body
from bench.gateway._wrk import lua_script, parse_output, run_wrk

_LINE = (
    'WRK_RESULT {"requests":2000,"duration_us":2000000,"p50_us":250,"p99_us":900,'
    '"max_us":1500,"connect":1,"read":2,"write":0,"status":3,"timeout":4}'
)


def test_summary_line_becomes_a_result() -> None:
    result = parse_output(f"Running 2s test\n{_LINE}\n")
    assert (result.requests, result.p50_us, result.p99_us) == (2000, 250, 900)
    assert result.rps == 1000


def test_socket_errors_sum_connect_read_write_and_timeouts() -> None:
    result = parse_output(_LINE)
    assert result.socket_errors == 7
    assert result.http_errors == 3
    assert result.errors == 10


def test_output_without_a_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="no wrk summary"):
        parse_output("Running 2s test\n")


def test_script_posts_the_body_with_the_headers() -> None:
    script = lua_script(b'{"a": "b"}', {"X-Tenant-ID": "sandbox"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.body = [==[{"a": "b"}]==]' in script
    assert 'wrk.headers["X-Tenant-ID"] = "sandbox"' in script


def test_script_refuses_a_body_that_would_end_the_lua_string() -> None:
    with pytest.raises(ValueError):
        lua_script(b"x]==]y", {})


def test_script_varies_the_word_in_every_request() -> None:
    script = lua_script(b'{"name": "Jane Doe"}', {}, vary="Doe")
    assert "function request()" in script
    assert 'local head, tail = [==[{"name": "Jane ]==], [==["}]==]' in script


def test_script_refuses_a_word_that_is_not_in_the_body_once() -> None:
    with pytest.raises(ValueError, match="once"):
        lua_script(b'{"a": "Doe Doe"}', {}, vary="Doe")
    with pytest.raises(ValueError, match="once"):
        lua_script(b'{"a": "b"}', {}, vary="Doe")


@pytest.mark.skipif(shutil.which("wrk") is None, reason="no wrk (make bench-gateways installs it)")
def test_wrk_sends_a_different_word_each_request_and_each_run(tmp_path: Path) -> None:
    bodies: list[bytes] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    body = request_body(stream=False)
    script = tmp_path / "vary.lua"
    script.write_text(lua_script(body, {"Content-Type": "application/json"}, VARIED_WORD))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        for _ in range(2):  # as the benchmark's warm-up and then its measured run
            run_wrk(url, script, connections=2, duration_s=1)
    finally:
        server.shutdown()
        server.server_close()
    assert len(bodies) > 20
    assert len(set(bodies)) == len(bodies)
    head, _, tail = body.partition(VARIED_WORD.encode())
    for sent in bodies:
        assert sent.startswith(head) and sent.endswith(tail)
        word = sent[len(head) : len(sent) - len(tail)].decode()
        assert len(word) == 8 and word.isalpha() and word[0].isupper() and word[1:].islower()
        orjson.loads(sent)
