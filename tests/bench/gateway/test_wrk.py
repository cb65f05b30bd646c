import pytest

from bench.gateway._wrk import lua_script, parse_output

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
